// sequencer: `npm run e2e` runs the test files in name order — harness and network first (each on its own cluster),
// then flow-1 … flow-8 in sequence on the flows' shared cluster (flow-3 and flow-6 break and restore it).
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export default class NameSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => (/\/flow-\d/.test(f.moduleId) ? 1 : 0);
    return [...files].sort((a, b) => rank(a) - rank(b) || a.moduleId.localeCompare(b.moduleId, 'en', { numeric: true }));
  }
}
