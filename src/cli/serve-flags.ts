// The V8 settings `custos serve` runs with (docs/decisions/011-a-small-young-generation.md).
// V8 reads them only when the process starts, so they are given on the node command line (npm
// start, the systemd unit) or in NODE_OPTIONS; serve says so in its log when they are missing.

/**
 * A young generation of 4 MB per semi-space instead of V8's 16: scavenges come four times as
 * often but each stops the proxy and the DNS filter for about a third as long, which is what
 * their slowest answers (p99) wait for.
 */
export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** The flags of SERVE_NODE_FLAGS that this process was not started with, by option name. */
export function missingServeFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map(optionName);
  return SERVE_NODE_FLAGS.filter((flag) => !given.includes(optionName(flag)));
}

/** `--max-semi-space-size=4` and `--max_semi_space_size` are the same option to V8. */
function optionName(flag: string): string {
  return flag.split('=')[0]!.replaceAll('_', '-');
}
