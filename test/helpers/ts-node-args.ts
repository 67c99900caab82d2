/**
 * Node arguments that let a child process run the project's TypeScript sources.
 *
 * Under tap, a child reuses the test process's own loader (tap's TypeScript import hook). Coverage from the
 * child then maps onto the same transformed source as the tests' coverage; a child compiled by a different
 * transformer (tsx) would merge mismatched byte ranges into the report and randomly drop files from it.
 * Outside tap, tsx runs the sources.
 */
export function tsNodeArgs(): string[] {
  const tapLoader = process.execArgv.filter(
    (arg) => arg.includes('@tapjs/typescript') || arg === '--enable-source-maps',
  );
  if (tapLoader.some((arg) => arg.includes('@tapjs/typescript'))) return tapLoader;
  return ['--import', 'tsx'];
}

/** The environment tap's TypeScript loader reads (transpile-only, the tsconfig); empty outside tap. */
export function tsNodeEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => /^(TS_NODE_|TAP_TS)/.test(entry[0]) && entry[1] !== undefined,
    ),
  );
}

/**
 * tsx, for a child given an environment of its own (no NODE_V8_COVERAGE, so it reports no coverage with
 * either loader): it starts src/server.ts ~4x faster than tap's loader (6-9 s against 26-33 s at load
 * average 14). A child that inherits process.env, and so reports coverage, takes tsNodeArgs() instead.
 */
export const TSX_ARGS = ['--import', import.meta.resolve('tsx')] as const;
