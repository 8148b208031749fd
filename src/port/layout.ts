import type { Family } from '../models/bisenetv2.js';

/**
 * A checkpoint family is data: how each canonical unit name (see src/models/bisenetv2.ts) is spelled
 * in that family's state dict, and how the fields of a conv and a BatchNorm are named there.
 */
export interface LayoutTable {
  family: Family;
  description: string;
  /**
   * Rewrites from canonical unit names (`detail.stage1.0.conv`) to the family's module path
   * (`detail.S1.0.conv`), applied in order like a sed script: each rule whose pattern matches the
   * whole current name replaces it (`$1`… refer to its groups), and the next rule sees the result.
   * Tests check that every canonical unit ends on a key of a real checkpoint of the family.
   */
  units: [pattern: string, template: string][];
  /** Field names for conv and BatchNorm parameters. */
  fields: { weight: string; bias: string; running_mean: string; running_var: string };
  /** Keys that carry no weights the model needs (e.g. BatchNorm's num_batches_tracked). */
  ignoredKeys: string[];
  /** Keys that belong to the booster (aux) heads. */
  boosterKeys: string;
  /** The key of the final classifier's weight, whose first dimension is the class count. */
  classifierKey: string;
}
