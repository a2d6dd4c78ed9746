import { describe, expect, it } from 'vitest';
import { buildAgentEnv } from './agent-env.js';

const parent = {
  PATH: '/bin',
  HOME: '/home/u',
  GITHUB_TOKEN: 'g',
  DATABASE_URL: 'd',
  PGHOST: 'h',
  AWS_REGION: 'r',
  ANTHROPIC_API_KEY: 'a',
  CLAUDE_CODE_USE_VERTEX: '0',
  OPENAI_API_KEY: 'o',
  CODEX_HOME: '/c',
  LOOPWRIGHT_HOME: '/l',
};

describe('buildAgentEnv', () => {
  it('keeps the allow-list and only the own vendor', () => {
    expect(buildAgentEnv({ vendor: 'anthropic', parent })).toEqual({
      PATH: '/bin',
      HOME: '/home/u',
      ANTHROPIC_API_KEY: 'a',
      CLAUDE_CODE_USE_VERTEX: '0',
    });
    expect(buildAgentEnv({ vendor: 'openai', parent })).toEqual({
      PATH: '/bin',
      HOME: '/home/u',
      OPENAI_API_KEY: 'o',
      CODEX_HOME: '/c',
    });
    expect(buildAgentEnv({ vendor: 'none', parent })).toEqual({ PATH: '/bin', HOME: '/home/u' });
  });

  it('lets configuration override the parent and task variables (LOOPWRIGHT_*) both', () => {
    const env = buildAgentEnv({
      vendor: 'none',
      parent,
      configured: { HOME: '/agent', GH_TOKEN: 'x' },
      task: {
        LOOPWRIGHT_TICKET: 'LW-1',
        LOOPWRIGHT_DATABASE_URL: 'postgres://x',
        PATH: '/evil',
        GITHUB_TOKEN: 'g2',
      },
    });
    expect(env).toEqual({ PATH: '/bin', HOME: '/agent', LOOPWRIGHT_TICKET: 'LW-1' });
  });
});
