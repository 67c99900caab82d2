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
 * tsx, resolved here so a child started in another directory finds it. Only for a test that starts several
 * processes (see startServerProcess's `tsx`): tap's process tracking covers children whatever their env,
 * and coverage from a tsx-compiled child can drop files from the report.
 */
export const TSX_ARGS = ['--import', import.meta.resolve('tsx')] as const;
