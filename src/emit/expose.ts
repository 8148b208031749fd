/**
 * Which IR tensors an emitter adds as extra outputs (`expose`): every tensor the emitted model
 * materializes under an IR name ('all'), or those named. A name the target does not materialize
 * (a BatchNorm folded into its conv, a ReLU fused into it in tfjs) is refused, naming the rule.
 */
import type { Graph } from '../ir/graph.js';
import { fail } from '../util/errors.js';

export type Expose = 'all' | string[];

/** `emitted`: IR tensors the emitted model holds under their own names, in order. */
export function exposedTensors(graph: Graph, emitted: string[], expose: Expose | undefined, target: string): string[] {
  if (expose === undefined) return [];
  const outputs = new Set(graph.outputs.map((o) => o.tensor));
  const floats = emitted.filter((t) => t !== graph.input.name && !outputs.has(t) && graph.nodes.find((n) => n.name === t)?.attrs.op !== 'argmax');
  if (expose === 'all') return floats;
  const missing = expose.filter((t) => !floats.includes(t) && !outputs.has(t));
  if (missing.length) {
    fail('usage', `--expose: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not a tensor of the ${target} model (BatchNorms are folded into their convs${target.startsWith('tfjs') || target === 'tflite' ? ', ReLUs fused into them' : ''}; e.g. ${floats.slice(0, 3).join(', ')})`);
  }
  return floats.filter((t) => expose.includes(t));
}
