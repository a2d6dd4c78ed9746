/**
 * A digital twin of the Linear GraphQL subset loopwright uses, on node:http: issues by team and
 * label (with relations, inverse relations and labels), issue by id, workflow states by team,
 * `issueUpdate` and `commentCreate`. The real `@linear/sdk` talks to it (`apiUrl`); queries are
 * parsed with graphql-js and answered by a small resolver walk (fields the twin does not know are
 * null), with the node shapes the SDK's models require (`reactions: []`, `sharedAccess`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Kind,
  parse,
  type FieldNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

export interface LinearTwinIssue {
  id: string;
  identifier: string;
  title: string;
  description: string;
  teamKey: string;
  labels: string[];
  stateName: string;
  /** Identifiers of issues that block this one. */
  blockedBy: string[];
  comments: string[];
  priority: number;
}

export interface LinearTwin {
  readonly url: string;
  readonly issues: LinearTwinIssue[];
  readonly requests: { operation: string; at: number }[];
  readonly stateChanges: { identifier: string; state: string }[];
  addIssue(i: Partial<LinearTwinIssue> & { title: string; teamKey: string }): LinearTwinIssue;
  close(): Promise<void>;
}

const STATES = [
  ['Backlog', 'backlog'],
  ['Todo', 'unstarted'],
  ['In Progress', 'started'],
  ['In Review', 'started'],
  ['Done', 'completed'],
  ['Canceled', 'canceled'],
] as const;

export async function startLinearTwin(o: { apiKey: string; teams: string[] }): Promise<LinearTwin> {
  const issues: LinearTwinIssue[] = [];
  const requests: { operation: string; at: number }[] = [];
  const stateChanges: { identifier: string; state: string }[] = [];
  let seq = 0;
  const ts = '2026-01-01T00:00:00.000Z';
  const teamOf = (key: string) => ({
    id: `team-${key}`,
    key,
    name: `Team ${key}`,
    createdAt: ts,
    updatedAt: ts,
    states: () => connection(statesOf(key)),
  });
  const statesOf = (key: string) =>
    STATES.map(([name, type], i) => ({
      id: `state-${key}-${i}`,
      name,
      type,
      position: i,
      color: '#000',
      createdAt: ts,
      updatedAt: ts,
      team: { id: `team-${key}` },
    }));
  const connection = <T>(nodes: T[]) => ({
    nodes,
    pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
  });
  const byIdentifier = (id: string) => issues.find((i) => i.identifier === id || i.id === id);
  const relation = (id: string, issue: LinearTwinIssue, related: LinearTwinIssue) => ({
    id,
    type: 'blocks',
    createdAt: ts,
    updatedAt: ts,
    issue: nodeOf(issue),
    relatedIssue: nodeOf(related),
  });
  const nodeOf = (i: LinearTwinIssue): Record<string, unknown> => {
    const team = teamOf(i.teamKey);
    const state = statesOf(i.teamKey).find((s) => s.name === i.stateName)!;
    return {
      id: i.id,
      identifier: i.identifier,
      number: Number(i.identifier.split('-')[1]),
      title: i.title,
      description: i.description,
      priority: i.priority,
      priorityLabel: 'None',
      url: `https://linear.test/issue/${i.identifier}`,
      branchName: i.identifier.toLowerCase(),
      createdAt: ts,
      updatedAt: ts,
      boardOrder: 0,
      sortOrder: 0,
      prioritySortOrder: 0,
      customerTicketCount: 0,
      labelIds: i.labels.map((l) => `label-${l}`),
      previousIdentifiers: [],
      reactionData: {},
      reactions: [],
      sharedAccess: {
        isShared: false,
        viewerHasOnlySharedAccess: false,
        sharedWithCount: 0,
        sharedWithUsers: [],
        disallowedIssueFields: [],
      },
      inheritsSharedAccess: false,
      team: { id: team.id },
      state: { id: state.id },
      labels: () =>
        connection(
          i.labels.map((name) => ({
            id: `label-${name}`,
            name,
            color: '#fff',
            createdAt: ts,
            updatedAt: ts,
          })),
        ),
      relations: () =>
        connection(
          issues
            .filter((other) => other.blockedBy.includes(i.identifier))
            .map((other) => relation(`rel-${i.identifier}-${other.identifier}`, i, other)),
        ),
      inverseRelations: () =>
        connection(
          i.blockedBy
            .map((b) => byIdentifier(b))
            .filter((b): b is LinearTwinIssue => b !== undefined)
            .map((b) => relation(`rel-${b.identifier}-${i.identifier}`, b, i)),
        ),
    };
  };
  const matches = (i: LinearTwinIssue, filter: Loose | undefined): boolean => {
    if (!filter) return true;
    const teamKey = filter.team?.key?.eq;
    if (teamKey && i.teamKey !== teamKey) return false;
    const label = filter.labels?.name?.eq ?? filter.labels?.some?.name?.eq;
    if (label && !i.labels.includes(label)) return false;
    const stateIn = filter.state?.name?.nin as string[] | undefined;
    if (stateIn?.includes(i.stateName)) return false;
    return true;
  };
  const root: Record<string, (args: Loose) => unknown> = {
    issues: (a) => connection(issues.filter((i) => matches(i, a.filter)).map(nodeOf)),
    issue: (a) => {
      const i = byIdentifier(String(a.id));
      if (!i) throw new GraphqlError('Entity not found: Issue', 'INVALID_INPUT');
      return nodeOf(i);
    },
    team: (a) => {
      const key = String(a.id).replace(/^team-/, '');
      if (!o.teams.includes(key)) throw new GraphqlError('Entity not found: Team', 'INVALID_INPUT');
      return teamOf(key);
    },
    teams: () => connection(o.teams.map(teamOf)),
    workflowStates: (a) => {
      const id = a.filter?.team?.id?.eq as string | undefined;
      const key = a.filter?.team?.key?.eq as string | undefined;
      return connection(
        o.teams.filter((t) => (!id || `team-${t}` === id) && (!key || t === key)).flatMap(statesOf),
      );
    },
    issueUpdate: (a) => {
      const i = byIdentifier(String(a.id));
      if (!i) throw new GraphqlError('Entity not found: Issue', 'INVALID_INPUT');
      const stateId = a.input?.stateId as string | undefined;
      if (stateId) {
        const state = statesOf(i.teamKey).find((s) => s.id === stateId);
        if (!state) throw new GraphqlError('Invalid state for team', 'INVALID_INPUT');
        i.stateName = state.name;
        stateChanges.push({ identifier: i.identifier, state: state.name });
      }
      return { success: true, lastSyncId: ++seq, issue: nodeOf(i) };
    },
    commentCreate: (a) => {
      const i = byIdentifier(String(a.input?.issueId));
      if (!i) throw new GraphqlError('Entity not found: Issue', 'INVALID_INPUT');
      const body = String(a.input?.body ?? '');
      i.comments.push(body);
      return {
        success: true,
        lastSyncId: ++seq,
        comment: {
          id: `comment-${seq}`,
          body,
          createdAt: ts,
          updatedAt: ts,
          reactions: [],
          reactionData: {},
          issue: { id: i.id },
        },
      };
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST') return reply(404, { errors: [{ message: 'not found' }] });
      if (req.headers.authorization !== o.apiKey)
        return reply(400, {
          errors: [
            {
              message: 'Authentication required, not authenticated',
              extensions: {
                code: 'AUTHENTICATION_ERROR',
                type: 'authentication error',
                userPresentableMessage: 'You need to authenticate to access this operation.',
              },
            },
          ],
        });
      try {
        const { query, variables } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const doc = parse(query);
        const fragments = new Map<string, FragmentDefinitionNode>();
        for (const d of doc.definitions)
          if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
        const op = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
        if (!op || op.kind !== Kind.OPERATION_DEFINITION) throw new Error('no operation');
        requests.push({ operation: op.name?.value ?? 'anonymous', at: Date.now() });
        const ctx = { fragments, variables: variables ?? {} };
        const data = resolveSelection(root as Record<string, unknown>, op.selectionSet, ctx);
        reply(200, { data });
      } catch (error) {
        const e = error as GraphqlError;
        reply(200, {
          data: null,
          errors: [
            {
              message: e.message,
              extensions: {
                code: e.code ?? 'INTERNAL_ERROR',
                type: 'invalid input',
                userPresentableMessage: e.message,
              },
            },
          ],
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return {
    url,
    issues,
    requests,
    stateChanges,
    addIssue(partial) {
      const n = issues.filter((i) => i.teamKey === partial.teamKey).length + 1;
      const issue: LinearTwinIssue = {
        id: `issue-${partial.teamKey}-${n}`,
        identifier: `${partial.teamKey}-${n}`,
        description: '',
        labels: [],
        stateName: 'Todo',
        blockedBy: [],
        comments: [],
        priority: 0,
        ...partial,
      };
      issues.push(issue);
      return issue;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// GraphQL arguments are whatever the client sent; the twin reads them loosely.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Loose = Record<string, any>;

class GraphqlError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

interface Ctx {
  readonly fragments: Map<string, FragmentDefinitionNode>;
  readonly variables: Record<string, unknown>;
}

function fieldsOf(set: SelectionSetNode, ctx: Ctx): FieldNode[] {
  return set.selections.flatMap((s) => {
    if (s.kind === Kind.FIELD) return [s];
    if (s.kind === Kind.INLINE_FRAGMENT) return fieldsOf(s.selectionSet, ctx);
    const fragment = ctx.fragments.get(s.name.value);
    return fragment ? fieldsOf(fragment.selectionSet, ctx) : [];
  });
}

function argValue(node: ValueNode, ctx: Ctx): unknown {
  switch (node.kind) {
    case Kind.VARIABLE:
      return ctx.variables[node.name.value];
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.STRING:
    case Kind.ENUM:
      return node.value;
    case Kind.BOOLEAN:
      return node.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((v) => argValue(v, ctx));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, argValue(f.value, ctx)]));
  }
}

function resolveSelection(obj: Record<string, unknown>, set: SelectionSetNode, ctx: Ctx): unknown {
  const out: Record<string, unknown> = {};
  for (const field of fieldsOf(set, ctx)) {
    const name = field.name.value;
    const alias = field.alias?.value ?? name;
    const args = Object.fromEntries(
      (field.arguments ?? []).map((a) => [a.name.value, argValue(a.value, ctx)]),
    );
    let value = name === '__typename' ? 'Node' : obj[name];
    if (typeof value === 'function') value = (value as (a: unknown) => unknown)(args);
    out[alias] = shape(value, field, ctx);
  }
  return out;
}

function shape(value: unknown, field: FieldNode, ctx: Ctx): unknown {
  if (value === undefined || value === null) return null;
  if (!field.selectionSet) return value;
  if (Array.isArray(value)) return value.map((v) => shape(v, field, ctx));
  return resolveSelection(value as Record<string, unknown>, field.selectionSet, ctx);
}
