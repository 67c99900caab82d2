import t from 'tap';
import { PlainDumpGuard } from '../../src/domain/restores/plain-guard.js';
import { rolesInSqlLine } from '../../src/domain/restores/role-names.js';

const roles = (line: string) => {
  const into = new Set<string>();
  rolesInSqlLine(line, into);
  return [...into].sort();
};

t.test('role names in what pg_dump and pg_restore write', async (t) => {
  const cases: [string, string[]][] = [
    ['ALTER TABLE public.t OWNER TO alice;', ['alice']],
    ['ALTER SCHEMA s OWNER TO "Odd ""One""";', ['Odd "One"']],
    ['GRANT SELECT ON TABLE public.t TO bob, "Carol X", PUBLIC;', ['Carol X', 'bob']],
    ['GRANT ALL ON SCHEMA s TO erin WITH GRANT OPTION;', ['erin']],
    ['GRANT admins TO gus WITH ADMIN OPTION;', ['gus']],
    ['GRANT admins TO hal GRANTED BY postgres;', ['hal']],
    ['REVOKE ALL ON SCHEMA public FROM frank CASCADE;', ['frank']],
    ['REVOKE ALL ON TABLE t FROM PUBLIC;', []],
    ['GRANT USAGE ON SCHEMA s TO current_user, session_user, CURRENT_ROLE;', []],
    ['ALTER DEFAULT PRIVILEGES FOR ROLE dave IN SCHEMA s GRANT ALL ON TABLES TO erin;', ['dave', 'erin']],
    ['ALTER DEFAULT PRIVILEGES FOR ROLE dave REVOKE ALL ON TABLES FROM ivy;', ['dave', 'ivy']],
    ['GRANT SELECT ON t TO joe', []], // no semicolon: not a whole statement
    ['SELECT 1; GRANT SELECT ON t TO kim;', []], // GRANT must start the line
    ['GRANTS SELECT ON t TO kim;', []],
    ['GRANT SELECT ON t TO "a,b";', []], // split on the comma, as before: neither half is a name
    ["COMMENT ON TABLE t IS 'xOWNER TO bob';", []],
    ['GRANT SELECT ON t TO lou TO mia;', []], // the list after the first TO is not a list of names
  ];
  for (const [line, expected] of cases) t.same(roles(line), expected, line);
});

/** Lines built to make a backtracking matcher (the old regular expressions) go quadratic or worse. */
const MiB = 1024 * 1024;
const fill = (unit: string, prefix = '', suffix = '') =>
  prefix + unit.repeat(Math.ceil((MiB - prefix.length - suffix.length) / unit.length)) + suffix;
const WORST: Record<string, string> = {
  'GRANT ... TO ... TO ... (no semicolon)': fill('TO x ', 'GRANT SELECT ON t '),
  'GRANT ... TO ... TO ...;': fill('TO x ', 'GRANT SELECT ON t ', ';'),
  'GRANT ... FROM TO FROM ...;': fill(' FROM TO', 'REVOKE ALL ON t', ';'),
  'GRANT ... TO a GRANTED GRANTED ...;': fill(' GRANTED', 'GRANT r TO a', ';'),
  'GRANT ... TO a, a, a ...;': fill(', a', 'GRANT r TO a', ';'),
  'ALTER DEFAULT PRIVILEGES followed by spaces': fill(' ', 'ALTER DEFAULT PRIVILEGES ', 'X;'),
  'ALTER DEFAULT PRIVILEGES GRANT GRANT ...': fill(' GRANT', 'ALTER DEFAULT PRIVILEGES', ';'),
  'OWNER TO " unclosed, repeated': fill('OWNER TO "x'),
  'OWNER TO """" ...': fill('"', 'OWNER TO '),
  'FOR ROLE FOR ROLE ...': fill('FOR ROLE '),
  'GRANT ... TO WITH WITH ... OPTION;': fill(' WITH', 'GRANT r TO a', ' GRANT OPTION;'),
  'nested comment openers': fill('/*', 'SELECT 1 ', '*/;'),
  'digits and dollars': fill('1$', 'SELECT '),
};

/**
 * CPU milliseconds `work` took in this process: two cores shared with other test runs make wall time
 * swing by 5x here, while a quadratic scan of these lines takes minutes of CPU either way.
 */
function cpuMs(work: () => void): number {
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

t.test('every 1 MiB worst case is scanned in linear time', async (t) => {
  for (const [name, line] of Object.entries(WORST)) {
    const ms = cpuMs(() => roles(line));
    t.ok(ms < 250, `${name}: ${ms.toFixed(1)} ms of CPU`);
  }
});

t.test('the plain-dump guard scans 1 MiB GRANT lines in linear time', async (t) => {
  for (const [name, line] of Object.entries(WORST)) {
    const bytes = Buffer.from(`${line}\n`, 'latin1');
    const ms = cpuMs(() => {
      const guard = new PlainDumpGuard();
      try {
        guard.feed(bytes);
        guard.end();
      } catch {
        // refused or not: only the time matters here
      }
    });
    t.ok(ms < 500, `${name}: ${ms.toFixed(1)} ms of CPU`);
  }
});
