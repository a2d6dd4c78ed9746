/**
 * A digital twin of the GitHub REST subset loopwright uses, on node:http: repos, pulls (list by
 * head, create, get, update, merge), issue comments, reviews and review comments, combined status
 * and check runs, plus git's smart HTTP (git http-backend) over a local bare repository as the
 * remote. Realistic payload shapes and failures: 401 without the token, 404, 422 "A pull request
 * already exists for …", `mergeable: null` while "GitHub" computes it, ETags with 304s, and
 * injected
 * faults (secondary rate limits 403/429 with retry-after).
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface TwinRequest {
  readonly method: string;
  readonly path: string;
  readonly at: number;
  /** The request carried `If-None-Match` (a conditional GET). */
  readonly conditional: boolean;
  /** The status answered (set when the answer is sent). */
  status?: number;
}

interface Pull {
  number: number;
  title: string;
  body: string;
  head: string;
  base: string;
  state: 'open' | 'closed';
  merged: boolean;
  merge_commit_sha: string | null;
  mergeableComputed: boolean;
  lastHeadSha: string;
  created_at: string;
  closed_at: string | null;
  merged_at: string | null;
  merged_by: { login: string } | null;
  /** Changes only when the PR does (GitHub's ETags are stable while nothing changes). */
  updated_at: string;
}
interface Comment {
  id: number;
  body: string;
  user: { login: string; type: string };
  created_at: string;
}
interface Review {
  id: number;
  user: { login: string };
  body: string;
  state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED';
  commit_id: string;
  submitted_at: string;
}
interface ReviewComment {
  id: number;
  pull_request_review_id: number;
  path: string;
  line: number;
  body: string;
  user: { login: string };
  commit_id: string;
}
export interface Fault {
  readonly method?: string;
  readonly path: RegExp;
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /**
   * Perform the request, then answer with this fault anyway (the write happened, the caller never
   * learns).
   */
  readonly afterWrite?: boolean;
  times: number;
}

export interface GithubTwinOptions {
  readonly token: string;
  readonly owner: string;
  readonly repo: string;
  /** The bare repository that is the remote; served at `/git/<owner>/<repo>.git`. */
  readonly bareRepo: string;
  readonly defaultBranch?: string;
  /** The login of the account the token belongs to (the author of loopwright's comments). */
  readonly login?: string;
}

export interface GithubTwin {
  readonly url: string;
  readonly gitUrl: string;
  readonly requests: TwinRequest[];
  readonly pulls: Pull[];
  readonly comments: Map<number, Comment[]>;
  readonly merges: { number: number; sha: string }[];
  fault(f: Omit<Fault, 'times'> & { times?: number }): void;
  /** A reviewer submits a review on the PR's current head; returns the webhook payload. */
  review(
    number: number,
    r: {
      state: 'APPROVED' | 'CHANGES_REQUESTED';
      body?: string;
      comments?: { path: string; line: number; body: string }[];
      login?: string;
      /** List it the way a terse fake might: no commit_id, body or user. */
      bare?: boolean;
    },
  ): Record<string, unknown>;
  /** A commit status on the PR's head (what "required checks" read). */
  setStatus(number: number, state: 'success' | 'failure' | 'pending', context?: string): void;
  /** A human merges on GitHub; returns the `pull_request` closed webhook payload. */
  mergeByHuman(number: number): Record<string, unknown>;
  /** A human closes the PR unmerged; returns the webhook payload. */
  close(number: number): Record<string, unknown>;
  /** The PR disappears (a deleted fork, a transferred repository): 404 from then on. */
  deletePull(number: number): void;
  pullPayload(number: number): Record<string, unknown>;
  close_server(): Promise<void>;
}

export async function startGithubTwin(o: GithubTwinOptions): Promise<GithubTwin> {
  const base = o.defaultBranch ?? 'main';
  const login = o.login ?? 'loopwright-bot';
  const pulls: Pull[] = [];
  const comments = new Map<number, Comment[]>();
  const reviews = new Map<number, Review[]>();
  const reviewComments = new Map<number, ReviewComment[]>();
  const statuses = new Map<string, { state: string; context: string }[]>();
  const requests: TwinRequest[] = [];
  const faults: Fault[] = [];
  const merges: { number: number; sha: string }[] = [];
  let nextId = 1000;
  let pullCount = 0;
  let url = '';
  const full = `${o.owner}/${o.repo}`;
  const gitIn = (args: string[]) =>
    execFileSync('git', args, { cwd: o.bareRepo, encoding: 'utf8' }).trim();
  const refSha = (branch: string): string | null => {
    try {
      return gitIn(['rev-parse', '--verify', '-q', `refs/heads/${branch}^{commit}`]);
    } catch {
      return null;
    }
  };
  const now = () => new Date().toISOString();
  const user = (name: string) => ({ login: name, id: name.length, type: 'User' });
  const repoJson = () => ({
    id: 1,
    name: o.repo,
    full_name: full,
    owner: user(o.owner),
    default_branch: base,
    html_url: `${url}/${full}`,
    clone_url: `${url}/git/${full}.git`,
  });
  const pullJson = (p: Pull) => {
    const headSha = refSha(p.head) ?? p.lastHeadSha;
    if (headSha !== p.lastHeadSha) {
      p.lastHeadSha = headSha;
      p.mergeableComputed = false;
      p.updated_at = now();
    }
    let mergeable: boolean | null = null;
    if (p.state === 'open' && p.mergeableComputed) mergeable = mergeTree(p) !== null;
    if (p.state === 'open') p.mergeableComputed = true;
    return {
      url: `${url}/repos/${full}/pulls/${p.number}`,
      html_url: `${url}/${full}/pull/${p.number}`,
      id: p.number + 5000,
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      user: user(login),
      head: { ref: p.head, sha: headSha, label: `${o.owner}:${p.head}`, repo: repoJson() },
      base: { ref: p.base, sha: refSha(p.base), label: `${o.owner}:${p.base}`, repo: repoJson() },
      merged: p.merged,
      mergeable: p.state === 'open' ? mergeable : null,
      mergeable_state: mergeable === null ? 'unknown' : mergeable ? 'clean' : 'dirty',
      merge_commit_sha: p.merge_commit_sha,
      merged_at: p.merged_at,
      merged_by: p.merged_by,
      closed_at: p.closed_at,
      created_at: p.created_at,
      updated_at: p.updated_at,
    };
  };
  const mergeTree = (p: Pull): string | null => {
    const baseSha = refSha(p.base);
    const headSha = refSha(p.head);
    if (!baseSha || !headSha) return null;
    try {
      return gitIn(['merge-tree', '--write-tree', baseSha, headSha]).split('\n')[0]!;
    } catch {
      return null;
    }
  };
  const doMerge = (p: Pull, by: string, message?: string): string | null => {
    const tree = mergeTree(p);
    if (!tree) return null;
    const baseSha = refSha(p.base)!;
    const headSha = refSha(p.head)!;
    const sha = execFileSync(
      'git',
      [
        'commit-tree',
        tree,
        '-p',
        baseSha,
        '-p',
        headSha,
        '-m',
        message ?? `Merge pull request #${p.number}`,
      ],
      {
        cwd: o.bareRepo,
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: by,
          GIT_AUTHOR_EMAIL: `${by}@github.test`,
          GIT_COMMITTER_NAME: 'GitHub',
          GIT_COMMITTER_EMAIL: 'noreply@github.test',
        },
      },
    ).trim();
    gitIn(['update-ref', `refs/heads/${p.base}`, sha, baseSha]);
    Object.assign(p, {
      state: 'closed',
      merged: true,
      merge_commit_sha: sha,
      merged_at: now(),
      closed_at: now(),
      merged_by: user(by),
      updated_at: now(),
    });
    merges.push({ number: p.number, sha });
    return sha;
  };
  const find = (n: number) => pulls.find((p) => p.number === n);
  const eventPayload = (p: Pull, action: string) => ({
    action,
    number: p.number,
    pull_request: pullJson(p),
    repository: repoJson(),
    sender: user('octo-reviewer'),
  });

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://twin');
    const logged: TwinRequest = {
      method: req.method ?? 'GET',
      path: u.pathname,
      at: Date.now(),
      conditional: req.headers['if-none-match'] !== undefined,
    };
    requests.push(logged);
    res.on('finish', () => (logged.status = res.statusCode));
    if (u.pathname.startsWith('/git/')) return gitBackend(req, res, u);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let lost: Fault | null = null;
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        if (lost) {
          const f = lost;
          lost = null;
          return send(f.status, f.body ?? { message: 'Server Error' }, f.headers ?? {});
        }
        const text = body === undefined ? '' : JSON.stringify(body);
        const etag = `W/"${createHash('sha1').update(text).digest('hex')}"`;
        if (req.method === 'GET' && status === 200 && req.headers['if-none-match'] === etag) {
          res.writeHead(304, { etag });
          return res.end();
        }
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          ...(req.method === 'GET' && status === 200 ? { etag } : {}),
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': '4999',
          ...headers,
        });
        res.end(text);
      };
      const auth = req.headers.authorization ?? '';
      if (auth !== `token ${o.token}` && auth !== `Bearer ${o.token}`)
        return send(401, {
          message: 'Bad credentials',
          documentation_url: 'https://docs.github.com/rest',
          status: '401',
        });
      const fault = faults.find(
        (f) => f.times > 0 && f.path.test(u.pathname) && (!f.method || f.method === req.method),
      );
      if (fault) {
        fault.times -= 1;
        if (fault.afterWrite) lost = fault;
        else return send(fault.status, fault.body ?? { message: 'fault' }, fault.headers ?? {});
      }
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        return send(400, { message: 'Problems parsing JSON' });
      }
      const notFound = () =>
        send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
      const prefix = `/repos/${full}`;
      if (!u.pathname.startsWith(prefix)) return notFound();
      const rest = u.pathname.slice(prefix.length);
      const m = (re: RegExp) => rest.match(re);
      let g: RegExpMatchArray | null;
      /** A list answered a page at a time (per_page default 30), `Link: rel="next"` while more. */
      const paged = (list: unknown[]) => {
        const per = Math.min(Number(u.searchParams.get('per_page') ?? 30) || 30, 100);
        const page = Math.max(Number(u.searchParams.get('page') ?? 1) || 1, 1);
        const next = new URL(u.toString());
        next.searchParams.set('per_page', String(per));
        next.searchParams.set('page', String(page + 1));
        const link = `<${url}${next.pathname}${next.search}>; rel="next"`;
        return send(
          200,
          list.slice((page - 1) * per, page * per),
          page * per < list.length ? { link } : {},
        );
      };
      if (rest === '' && req.method === 'GET') return send(200, repoJson());
      if (rest === '/pulls' && req.method === 'GET') {
        const head = u.searchParams.get('head');
        const state = u.searchParams.get('state') ?? 'open';
        const list = pulls.filter(
          (p) =>
            (state === 'all' || p.state === state) && (!head || `${o.owner}:${p.head}` === head),
        );
        return paged(list.map(pullJson));
      }
      if (rest === '/pulls' && req.method === 'POST') {
        const head = String(body.head ?? '');
        const baseRef = String(body.base ?? '');
        if (!body.title || !head || !baseRef)
          return send(422, { message: 'Validation Failed', errors: [{ code: 'missing_field' }] });
        if (!refSha(head) || !refSha(baseRef))
          return send(422, {
            message: 'Validation Failed',
            errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }],
          });
        if (pulls.some((p) => p.head === head && p.state === 'open'))
          return send(422, {
            message: 'Validation Failed',
            errors: [
              {
                resource: 'PullRequest',
                code: 'custom',
                message: `A pull request already exists for ${o.owner}:${head}.`,
              },
            ],
            documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
          });
        const p: Pull = {
          number: ++pullCount,
          title: String(body.title),
          body: String(body.body ?? ''),
          head,
          base: baseRef,
          state: 'open',
          merged: false,
          merge_commit_sha: null,
          mergeableComputed: false,
          lastHeadSha: refSha(head)!,
          created_at: now(),
          closed_at: null,
          merged_at: null,
          merged_by: null,
          updated_at: now(),
        };
        pulls.push(p);
        return send(201, pullJson(p));
      }
      if ((g = m(/^\/pulls\/(\d+)$/))) {
        const p = find(Number(g[1]));
        if (!p) return notFound();
        if (req.method === 'PATCH') {
          p.updated_at = now();
          if (typeof body.title === 'string') p.title = body.title;
          if (typeof body.body === 'string') p.body = body.body;
          if (body.state === 'closed' && p.state === 'open') {
            p.state = 'closed';
            p.closed_at = now();
          }
        }
        return send(200, pullJson(p));
      }
      if ((g = m(/^\/pulls\/(\d+)\/merge$/)) && req.method === 'PUT') {
        const p = find(Number(g[1]));
        if (!p) return notFound();
        if (p.merged || p.state !== 'open')
          return send(405, { message: 'Pull Request is not mergeable' });
        const head = refSha(p.head);
        if (body.sha && body.sha !== head)
          return send(409, {
            message: 'Head branch was modified. Review and try the merge again.',
          });
        const sha = doMerge(
          p,
          login,
          typeof body.commit_title === 'string' ? body.commit_title : undefined,
        );
        if (!sha) return send(405, { message: 'Pull Request is not mergeable' });
        return send(200, { sha, merged: true, message: 'Pull Request successfully merged' });
      }
      if ((g = m(/^\/pulls\/(\d+)\/reviews$/)) && req.method === 'GET')
        return find(Number(g[1])) ? paged(reviews.get(Number(g[1])) ?? []) : notFound();
      if ((g = m(/^\/pulls\/(\d+)\/reviews\/(\d+)\/comments$/)) && req.method === 'GET')
        return paged(
          (reviewComments.get(Number(g[1])) ?? []).filter(
            (c) => c.pull_request_review_id === Number(g![2]),
          ),
        );
      if ((g = m(/^\/pulls\/(\d+)\/comments$/)) && req.method === 'GET')
        return paged(reviewComments.get(Number(g[1])) ?? []);
      if ((g = m(/^\/issues\/(\d+)\/comments$/))) {
        const n = Number(g[1]);
        if (!find(n)) return notFound();
        const list = comments.get(n) ?? [];
        if (req.method === 'GET') {
          return paged(list);
        }
        if (req.method === 'POST') {
          if (typeof body.body !== 'string' || !body.body)
            return send(422, { message: 'Validation Failed' });
          const c = { id: nextId++, body: body.body, user: user(login), created_at: now() };
          list.push(c);
          comments.set(n, list);
          return send(201, c);
        }
      }
      if ((g = m(/^\/commits\/([^/]+)\/status$/)) && req.method === 'GET') {
        const list = statuses.get(g[1]!) ?? [];
        const state =
          list.length === 0
            ? 'pending'
            : list.some((s) => s.state === 'failure')
              ? 'failure'
              : list.some((s) => s.state === 'pending')
                ? 'pending'
                : 'success';
        return send(200, { state, sha: g[1], total_count: list.length, statuses: list });
      }
      if ((g = m(/^\/commits\/([^/]+)\/check-runs$/)) && req.method === 'GET')
        return send(200, { total_count: 0, check_runs: [] });
      return notFound();
    });
  });

  /** git smart HTTP through `git http-backend`, behind the same token (Basic, as git sends it). */
  function gitBackend(req: http.IncomingMessage, res: http.ServerResponse, u: URL): void {
    const auth = req.headers.authorization ?? '';
    const basic = auth.startsWith('Basic ')
      ? Buffer.from(auth.slice(6), 'base64').toString('utf8')
      : '';
    if (!basic.endsWith(`:${o.token}`)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="GitHub"' });
      return void res.end('Unauthorized');
    }
    const root = path.dirname(path.dirname(o.bareRepo));
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.receivepack',
        GIT_CONFIG_VALUE_0: 'true',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: u.pathname.slice('/git'.length),
        QUERY_STRING: u.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: 'x-access-token',
        REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['content-encoding']
          ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) }
          : {}),
      },
    });
    req.pipe(child.stdin);
    let header = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk);
      header = Buffer.concat([header, chunk]);
      const end = header.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of header.subarray(0, end).toString('utf8').split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
        else res.setHeader(k, v);
      }
      res.writeHead(status);
      res.write(header.subarray(end + 4));
    });
    child.on('close', () => res.end());
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    gitUrl: `${url}/git/${full}.git`,
    requests,
    pulls,
    comments,
    merges,
    fault: (f) => faults.push({ ...f, times: f.times ?? 1 }),
    review(number, r) {
      const p = find(number);
      if (!p) throw new Error(`no PR #${number}`);
      const head = refSha(p.head)!;
      const review: Review = {
        id: nextId++,
        user: { login: r.login ?? 'octo-reviewer' },
        body: r.body ?? '',
        state: r.state,
        commit_id: head,
        submitted_at: now(),
      };
      const listed = r.bare ? ({ id: review.id, state: review.state } as Review) : review;
      reviews.set(number, [...(reviews.get(number) ?? []), listed]);
      p.updated_at = now();
      const list = reviewComments.get(number) ?? [];
      for (const c of r.comments ?? [])
        list.push({
          id: nextId++,
          pull_request_review_id: review.id,
          path: c.path,
          line: c.line,
          body: c.body,
          user: review.user,
          commit_id: head,
        });
      reviewComments.set(number, list);
      return {
        action: 'submitted',
        review: {
          ...review,
          state: r.state.toLowerCase(),
          html_url: `${url}/${full}/pull/${number}`,
        },
        pull_request: pullJson(p),
        repository: repoJson(),
        sender: user(review.user.login),
      };
    },
    setStatus(number, state, context = 'ci/test') {
      const p = find(number)!;
      const head = refSha(p.head)!;
      const list = (statuses.get(head) ?? []).filter((s) => s.context !== context);
      statuses.set(head, [...list, { state, context }]);
    },
    deletePull(number) {
      const i = pulls.findIndex((p) => p.number === number);
      if (i >= 0) pulls.splice(i, 1);
    },
    mergeByHuman(number) {
      const p = find(number)!;
      if (!doMerge(p, 'octo-human')) throw new Error('not mergeable');
      return eventPayload(p, 'closed');
    },
    close(number) {
      const p = find(number)!;
      p.state = 'closed';
      p.closed_at = now();
      p.updated_at = now();
      return eventPayload(p, 'closed');
    },
    pullPayload: (number) => pullJson(find(number)!),
    close_server: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
