import { describe, expect, it } from 'vitest';
import { missingServeFlags, SERVE_NODE_FLAGS } from './serve-flags.ts';

describe('the V8 flags serve runs with', () => {
  it('names the young-generation flag when the process was started without it', () => {
    expect(missingServeFlags(['--import', 'tsx'], '')).toEqual([...SERVE_NODE_FLAGS]);
  });

  it('accepts the flag on the command line, in NODE_OPTIONS, or spelt with underscores', () => {
    expect(missingServeFlags(['--max-semi-space-size=8'], '')).toEqual([]);
    expect(missingServeFlags([], '--enable-source-maps --max-semi-space-size=4')).toEqual([]);
    expect(missingServeFlags(['--max_semi_space_size=4'], '')).toEqual([]);
  });
});
