// message.test: FailedScheduling texts exactly as upstream's FitError and DefaultPreemption print them.
import { describe, expect, it } from 'vitest';
import { fitErrorMessage, histogram } from './message.ts';
import type { FilterResult } from './types.ts';

const st = (code: FilterResult['code'], ...reasons: string[]): FilterResult => ({ code, reasons });

describe('fitErrorMessage', () => {
  it('counts reasons and sorts them as strings, then adds the preemption verdict', () => {
    const statuses = new Map([
      ['a', st('Unschedulable', 'Insufficient cpu')],
      ['b', st('Unschedulable', 'Insufficient cpu')],
      ['cp', st('UnschedulableAndUnresolvable', 'node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }')],
    ]);
    expect(fitErrorMessage({ numAllNodes: 3, statuses })).toBe(
      '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. ' +
        'preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.',
    );
  });
  it('a node with several reasons counts each', () => {
    const statuses = new Map([
      ['a', st('Unschedulable', 'Insufficient cpu', 'Insufficient memory')],
      ['b', st('Unschedulable', 'Insufficient cpu')],
    ]);
    expect(fitErrorMessage({ numAllNodes: 2, statuses })).toBe(
      '0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
    );
  });
  it('all unresolvable', () => {
    const statuses = new Map([
      ['a', st('UnschedulableAndUnresolvable', "node(s) didn't match Pod's node affinity/selector")],
      ['b', st('UnschedulableAndUnresolvable', "node(s) didn't match Pod's node affinity/selector")],
    ]);
    expect(fitErrorMessage({ numAllNodes: 2, statuses })).toBe(
      "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );
  });
  it('preemptionPolicy Never', () => {
    const statuses = new Map([['a', st('Unschedulable', 'Insufficient cpu')]]);
    expect(fitErrorMessage({ numAllNodes: 1, statuses }, 'Never')).toBe('0/1 nodes are available: 1 Insufficient cpu. not eligible due to preemptionPolicy=Never.');
  });
  it('histogram sorts lexically (10 before 2), as upstream', () => {
    expect(histogram([...Array(10).fill('x'), 'y', 'y'])).toEqual(['10 x', '2 y']);
  });
});
