#!/usr/bin/env bash
# The baseline loopwright is measured against: the minimal bash loop a user would write, running
# the same scripted agents and gate commands from a JSON manifest, one ticket after another, with
# no database, no journal, no sandbox and no recovery. Per ticket: a branch in a worktree; the five
# agent runs (plan, critique, RED, BUILD, validate), each checked for its report; a commit and a
# failing test run after RED; a commit and a passing test run after BUILD; a merge into main, its
# test run and the live check on main.
#
# usage: bash-loop.sh MANIFEST.json REPO_DIR SCRIPT.json TEST_CMD LIVE_CMD AGENT_ARGV...
#   MANIFEST.json  {"tickets": ["key-1", "key-2", ...]}
set -euo pipefail
manifest=$1 repo=$2 script=$3 test_cmd=$4 live_cmd=$5
shift 5
agent=("$@")

keys=$(tr -d '\n' < "$manifest" | sed -e 's/.*"tickets"[^[]*\[//' -e 's/\].*//' | tr ',' '\n' | tr -d ' "')
export GIT_AUTHOR_NAME=loop GIT_AUTHOR_EMAIL=loop@localhost GIT_COMMITTER_NAME=loop GIT_COMMITTER_EMAIL=loop@localhost

run_agent() { # key role phase
  (cd "$wt" && LOOPWRIGHT_TICKET=$1 LOOPWRIGHT_ROLE=$2 LOOPWRIGHT_PHASE=$3 LOOPWRIGHT_SCRIPT=$script \
    LOOPWRIGHT_ATTEMPT=1 LOOPWRIGHT_ROUND=1 "${agent[@]}" -p "Read .loopwright/task.md" \
    < /dev/null > "$wt/.loopwright/$3.jsonl")
  test -s "$wt/.loopwright/report.json" || { echo "$1 $3: no report" >&2; exit 1; }
}

for key in $keys; do
  wt="$repo.wt/$key"
  git -C "$repo" worktree add -q -b "loop/$key" "$wt" main
  mkdir -p "$wt/.loopwright"
  echo "$key" > "$wt/.loopwright/task.md"
  run_agent "$key" lead plan_draft
  run_agent "$key" validator plan_critique
  run_agent "$key" generator red
  git -C "$wt" add -A -- . ':!.loopwright' && git -C "$wt" commit -q -m "$key: RED"
  if (cd "$wt" && sh -c "$test_cmd" > /dev/null 2>&1); then echo "$key: RED passed" >&2; exit 1; fi
  run_agent "$key" generator build
  git -C "$wt" add -A -- . ':!.loopwright' && git -C "$wt" commit -q -m "$key: BUILD"
  (cd "$wt" && sh -c "$test_cmd" > /dev/null)
  run_agent "$key" validator validate
  git -C "$repo" merge -q --no-ff -m "Merge $key" "loop/$key"
  (cd "$repo" && sh -c "$test_cmd" > /dev/null)
  (cd "$repo" && sh -c "$live_cmd" > /dev/null)
  git -C "$repo" worktree remove --force "$wt"
done
