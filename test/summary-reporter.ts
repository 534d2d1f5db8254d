import type { Reporter, TestModule, Vitest } from 'vitest/node';

/**
 * Prints one `skipped: FILE > TEST` line per skipped test (with its `ctx.skip(note)` where given;
 * a conditional skip carries its reason in its name, e.g. "(SKIPPED: usearch not installed)"), then
 * one plain closing line, `N passed, N failed, N skipped`, that any CI can read. So a test that
 * never runs on some machine (a missing optional package) is named in the log, not only counted.
 * Tests left out by a `-t` name filter are counted but not listed.
 */
export default class SummaryReporter implements Reporter {
  private namePattern: RegExp | undefined;

  onInit(vitest: Vitest): void {
    this.namePattern = vitest.config.testNamePattern;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const lines: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state === 'passed') passed++;
        else if (r.state === 'failed') failed++;
        else {
          skipped++;
          // Filtered out by -t: not a skip of its own.
          if (this.namePattern && !this.namePattern.test(t.fullName) && !this.namePattern.test(t.fullName.replaceAll(' > ', ' '))) continue;
          const note = r.state === 'skipped' && r.note ? ` (${r.note})` : '';
          lines.push(`${t.options.mode === 'todo' ? 'todo' : 'skipped'}: ${m.relativeModuleId} > ${t.fullName}${note}`);
        }
      }
    }
    process.stdout.write(`\n${lines.map((l) => `${l}\n`).join('')}${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
