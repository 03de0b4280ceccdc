/**
 * The `metadata.json` of a model directory: what a model is (config, channels,
 * normalisation), how it was trained, and the checksum of every other file.
 * Its schema is checked on load, so a hand-edited or truncated file is refused.
 */
import { z } from 'zod';
import { errorMessage } from '../errors.ts';
import type { ModelConfig } from './config.ts';
import { modelConfigSchema } from './config.ts';
import type { ChannelStats, Normalisation } from './normalisation.ts';

/** Bumped when a model directory written by this code could not be read by older code. */
export const MODEL_FORMAT_VERSION = 1;

/** One epoch of training. `valLoss` is null when no windows were held out. */
export interface EpochLoss {
  epoch: number;
  loss: number;
  valLoss: number | null;
}

/** How a model was trained, for operators and for retraining decisions. */
export interface TrainingSummary {
  /** Windows given to training, and how they were split. */
  windows: number;
  trainWindows: number;
  validationWindows: number;
  /**
   * Windows given but left out of both sets: they held a value stored as
   * ±Infinity or a million scales from its channel's median (train.ts).
   * Absent (read as 0) in models saved before it was recorded.
   */
  windowsLeftOut: number;
  /** Validation windows are the last ones given (the most recent), not a random sample. */
  validationSplit: 'last-fraction';
  channelStats: ChannelStats[];
  epochsRun: number;
  /** Epoch whose weights were kept (lowest validation loss, or training loss without validation). */
  bestEpoch: number;
  bestLoss: number;
  stoppedEarly: boolean;
  durationMs: number;
  /** tfjs backend that trained the model. */
  backend: string;
}

/** Everything `metadata.json` holds. `files` maps file name → sha256 (hex). */
export interface ModelMetadata {
  formatVersion: number;
  /** Identifies the model in alerts: creation time and a short hash of the weights. */
  version: string;
  createdAt: string;
  config: ModelConfig;
  channels: string[];
  normalisation: Normalisation;
  training: TrainingSummary;
  lossHistory: EpochLoss[];
  files: Record<string, string>;
}

const finite = z.number().refine(Number.isFinite, 'must be finite');

/** Schema of `metadata.json`; the format version is checked separately to name that problem. */
export const modelMetadataSchema = z.object({
  formatVersion: z.number().int(),
  version: z.string().min(1),
  createdAt: z.string().min(1),
  config: modelConfigSchema,
  channels: z.array(z.string().min(1)).min(1),
  normalisation: z.object({
    method: z.literal('median-iqr'),
    center: z.array(finite),
    scale: z.array(finite.refine((v) => v > 0, 'must be positive')),
  }),
  training: z.object({
    windows: z.number().int().nonnegative(),
    trainWindows: z.number().int().nonnegative(),
    validationWindows: z.number().int().nonnegative(),
    windowsLeftOut: z.number().int().nonnegative().default(0),
    validationSplit: z.literal('last-fraction'),
    channelStats: z.array(
      z.object({
        channel: z.string(),
        min: z.number(),
        max: z.number(),
        mean: z.number(),
        std: z.number(),
        median: z.number(),
        iqr: z.number(),
      }),
    ),
    epochsRun: z.number().int().nonnegative(),
    bestEpoch: z.number().int().nonnegative(),
    bestLoss: z.number(),
    stoppedEarly: z.boolean(),
    durationMs: z.number().nonnegative(),
    backend: z.string(),
  }),
  lossHistory: z.array(
    z.object({ epoch: z.number().int(), loss: z.number(), valLoss: z.number().nullable() }),
  ),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
});

/**
 * What a metadata.json's text holds: its JSON (absent when it is not JSON),
 * and the metadata when that passes the schema, else what is wrong. The one
 * reading of the file shared by loading a model, checking a save target and
 * listing a registry. The format version is not compared here.
 */
export type MetadataText =
  | { json: unknown; metadata: ModelMetadata }
  | { json?: unknown; metadata?: undefined; problem: string };

export function readMetadataText(text: string): MetadataText {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      problem: `not valid JSON (${errorMessage(error)})`,
    };
  }
  const parsed = modelMetadataSchema.safeParse(json);
  if (!parsed.success) return { json, problem: describeIssues(parsed.error) };
  return { json, metadata: parsed.data as ModelMetadata };
}

/** A schema failure's first three issues as `path: message`, and how many more there are. */
export function describeIssues(error: z.ZodError): string {
  const issues = error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  const more = issues.length > 3 ? `; and ${issues.length - 3} more` : '';
  return `${issues.slice(0, 3).join('; ')}${more}`;
}
