/**
 * From a {@link SandboxSpec} to the ordered list of mounts bwrap applies. Every path is resolved
 * with realpath first, so a symlink never redirects a bind; a path inside a writable tree that
 * does not resolve to itself (the agent planted a symlink) is refused. Mounts are applied parent
 * before child, so a read-only `.git` inside a writable workspace, or a workspace inside a hidden
 * home, both come out right whatever order the caller listed them in.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { type SandboxSpec, SandboxSpecError } from './spec.js';

export type MountKind = 'hide' | 'writable' | 'readOnly';

/** One bwrap mount: `--tmpfs P` (hide), `--bind P P` (writable), `--ro-bind P P` (readOnly). */
export interface Mount {
  readonly kind: MountKind;
  readonly path: string;
}

/** Paths hidden from every sandboxed process, whatever its spec says. */
export interface DefaultHides {
  /** Hidden, but a writable/readOnly tree below may be shown (LOOPWRIGHT_HOME, $HOME). */
  readonly soft: readonly string[];
  /** Hidden, and nothing inside may ever be bound (database files, password files). */
  readonly protected: readonly string[];
  /**
   * Shown read-only even below a soft hide: the programs agents are started with (loopwright's
   * own package, Node's installation) when they happen to live under the orchestrator's HOME.
   */
  readonly show?: readonly string[];
}

/** At one path, later kinds win: a tree asked for explicitly beats a hide, read-only beats both. */
const KIND_ORDER: Readonly<Record<MountKind, number>> = { hide: 0, writable: 1, readOnly: 2 };

/**
 * Resolve and order the mounts for `spec`. Missing hides and read-only paths are skipped (there is
 * nothing to hide or protect); a missing writable tree is an error.
 *
 * @throws SandboxSpecError for a missing or root writable tree, a symlink inside a writable tree,
 *   or a bind that would expose a protected path.
 */
export function planMounts(spec: SandboxSpec, defaults: DefaultHides): Mount[] {
  const writable = spec.writable.map((p) => resolveWritable(p));
  const inWritable = (p: string) => writable.some((w) => isInside(p, w.lexical));
  const mounts: Mount[] = writable.map((w) => ({ kind: 'writable', path: w.real }));
  const protectedReal = defaults.protected
    .map(resolveExisting)
    .filter(isString)
    .filter((p) => p !== '/');
  for (const p of [...defaults.soft, ...defaults.protected, ...(spec.hide ?? [])]) {
    const real = resolveChecked(p, inWritable, writable);
    if (real !== undefined && real !== '/') mounts.push({ kind: 'hide', path: real });
  }
  for (const p of [...(defaults.show ?? []), ...(spec.readOnly ?? [])]) {
    const real = resolveChecked(p, inWritable, writable);
    if (real !== undefined && real !== '/') mounts.push({ kind: 'readOnly', path: real });
  }
  for (const mount of mounts) {
    if (mount.kind === 'hide') continue;
    const exposed = protectedReal.find((p) => isInside(mount.path, p));
    if (exposed)
      throw new SandboxSpecError(`sandbox must not expose ${mount.path}: it is inside ${exposed}`);
  }
  return orderMounts(dropNestedHides(mounts));
}

/**
 * A hide inside another hide, with nothing bound between them, would only draw an empty mount
 * point (and so reveal a name) inside the outer tmpfs: drop it.
 */
function dropNestedHides(mounts: readonly Mount[]): Mount[] {
  const hides = mounts.filter((m) => m.kind === 'hide');
  const binds = mounts.filter((m) => m.kind !== 'hide');
  return mounts.filter(
    (m) =>
      m.kind !== 'hide' ||
      !hides.some(
        (outer) =>
          outer.path !== m.path &&
          isInside(m.path, outer.path) &&
          !binds.some((b) => isInside(m.path, b.path) && isInside(b.path, outer.path)),
      ),
  );
}

/** Parent before child; at the same path, by {@link KIND_ORDER}; duplicates dropped. */
export function orderMounts(mounts: readonly Mount[]): Mount[] {
  const seen = new Set<string>();
  const unique = mounts.filter((m) => {
    const key = `${m.kind}\0${m.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort(
    (a, b) =>
      depth(a.path) - depth(b.path) ||
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
      a.path.localeCompare(b.path),
  );
}

interface ResolvedTree {
  readonly lexical: string;
  readonly real: string;
}

function resolveWritable(p: string): ResolvedTree {
  const real = resolveExisting(p);
  if (real === undefined) throw new SandboxSpecError(`writable tree does not exist: ${p}`);
  if (real === '/') throw new SandboxSpecError('the root directory cannot be a writable tree');
  return { lexical: path.resolve(p), real };
}

/**
 * realpath of `p`, or undefined when it does not exist. Inside a writable tree the resolved path
 * must be the lexical one: any symlink there was put there by whoever writes the tree.
 */
function resolveChecked(
  p: string,
  inWritable: (p: string) => boolean,
  writable: readonly ResolvedTree[],
): string | undefined {
  const real = resolveExisting(p);
  if (real === undefined || !inWritable(path.resolve(p))) return real;
  const owner = writable.find((w) => isInside(path.resolve(p), w.lexical));
  const expected = owner
    ? path.join(owner.real, path.relative(owner.lexical, path.resolve(p)))
    : real;
  if (real !== expected)
    throw new SandboxSpecError(
      `${p} is redirected by a symlink inside a writable tree (it resolves to ${real})`,
    );
  return real;
}

function resolveExisting(p: string): string | undefined {
  try {
    return realpathSync.native(path.resolve(p));
  } catch {
    return undefined;
  }
}

/** True if `p` is `dir` or below it (both absolute and normalised). */
export function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('../') && !path.isAbsolute(rel));
}

function depth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1;
}

function isString(value: string | undefined): value is string {
  return value !== undefined;
}
