/**
 * One short-lived client for statements that cannot run on a pool of the target database
 * (CREATE/DROP DATABASE): used by the test set-up and the benchmarks.
 */
import pg from 'pg';

/** Connect to `url`, run `work`, always disconnect. */
export async function withClient<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Run one statement on `url`. */
export async function runStatement(url: string, statement: string): Promise<void> {
  await withClient(url, (client) => client.query(statement));
}
