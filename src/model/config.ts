/**
 * The autoencoder's hyperparameters: their defaults and the one place that
 * validates them, so training, the worker and loading agree on what a valid
 * configuration is.
 */
import { z } from 'zod';
import { TsadError } from '../errors.ts';

/** Hyperparameters of the LSTM autoencoder and its training. */
export interface ModelConfig {
  /** Time steps per window. */
  windowSize: number;
  /** Units of each encoder LSTM layer, outermost first; the decoder mirrors them. */
  hiddenUnits: number[];
  /** Size of the dense code between encoder and decoder. */
  codeSize: number;
  /** Dropout rate after each LSTM layer while training (0 disables it, and keeps training deterministic). */
  dropout: number;
  learningRate: number;
  batchSize: number;
  maxEpochs: number;
  /** Epochs without a validation-loss improvement before training stops. */
  patience: number;
  /** Share of windows, taken from the end (the most recent), held out for validation. */
  validationFraction: number;
  /** Seeds the weight initialisers and the per-epoch shuffle. */
  seed: number;
}

/** Defaults sized for one to a few channels and windows of tens of steps. */
export const defaultModelConfig: Readonly<ModelConfig> = Object.freeze({
  windowSize: 32,
  hiddenUnits: [32],
  codeSize: 16,
  dropout: 0,
  learningRate: 0.005,
  batchSize: 64,
  maxEpochs: 50,
  patience: 5,
  validationFraction: 0.1,
  seed: 42,
});

const positiveInt = z.number().int().positive();

/** Zod schema of a complete config; also used to validate a model's metadata. */
export const modelConfigSchema = z.object({
  windowSize: z.number().int().min(2),
  hiddenUnits: z.array(positiveInt).min(1),
  codeSize: positiveInt,
  dropout: z.number().min(0).lt(1),
  learningRate: z.number().positive(),
  batchSize: positiveInt,
  maxEpochs: positiveInt,
  patience: positiveInt,
  validationFraction: z.number().min(0).lt(1),
  seed: z.number().int(),
});

/**
 * Completes a partial config with the defaults and validates it, reporting
 * every problem at once with its field, as TSAD_ERR_CONFIG_INVALID.
 */
export function resolveModelConfig(partial: Partial<ModelConfig> = {}): ModelConfig {
  const merged = { ...defaultModelConfig, ...stripUndefined(partial) };
  const parsed = modelConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.join('.') || 'config'}: ${i.message}`,
    );
    throw new TsadError('TSAD_ERR_CONFIG_INVALID', `invalid model config: ${problems.join('; ')}`);
  }
  return { ...parsed.data, hiddenUnits: [...parsed.data.hiddenUnits] };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
