package dev.diagonal.stream;

import dev.diagonal.backend.Backend;
import dev.diagonal.model.dit.Activations;
import dev.diagonal.model.dit.KvCache;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.schedule.ContextRule;
import dev.diagonal.schedule.FlowMatching;
import dev.diagonal.schedule.StepList;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Arrays;

/**
 * The few-step sampler for one chunk, written once: start from noise, at each timestep predict x0 from the
 * network's flow, re-noise it to the next timestep with fresh noise, and leave with the last x0. Then apply the
 * context rule: keep the K/V of the last step (reuse), or re-encode the finished chunk at a context timestep.
 *
 * <p>Owns the chunk-sized buffers; the caller owns the model, the cache and the text context.
 */
final class ChunkSampler {
    private final WanDiT model;
    private final Backend backend;
    private final FlowMatching flow;
    private final NoiseSource noise;
    private final StepObserver observer;
    private final Activations activations;
    private final Tensor hostNoise;
    private final Tensor noiseBuffer;
    private final Tensor x;
    private final Tensor v;
    private final Tensor x0;
    private double lastTimestep = Double.NaN;

    ChunkSampler(WanDiT model, Arena arena, int frames, int height, int width, FlowMatching flow,
                 NoiseSource noise, StepObserver observer) {
        this.model = model;
        this.backend = model.backend();
        this.flow = flow;
        this.noise = noise;
        this.observer = observer;
        this.activations = model.activations(arena, frames, height, width);
        long c = model.config().inDim();
        this.hostNoise = Tensor.allocate(arena, DType.F32, c, frames, height, width);
        this.noiseBuffer = backend.allocate(arena, DType.F32, c, frames, height, width);
        this.x = backend.allocate(arena, DType.F32, c, frames, height, width);
        this.v = backend.allocate(arena, DType.F32, model.config().outDim(), frames, height, width);
        this.x0 = backend.allocate(arena, DType.F32, model.config().outDim(), frames, height, width);
        if (model.config().inDim() != model.config().outDim()) {
            throw new IllegalArgumentException("the sampler feeds x0 back as input: inDim must equal outDim");
        }
    }

    /**
     * Denoises chunk {@code chunk} whose first frame is {@code firstFrame} (the cache has begun it) and returns
     * the number of network evaluations; the result is in {@link #x0()}. The context rule is applied only when
     * a later chunk will read the cache ({@code contextNeeded}): a re-encode after the last chunk changes nothing.
     */
    int denoise(int chunk, int firstFrame, StepList steps, ContextRule rule, boolean contextNeeded, TextContext text,
                KvCache cache) {
        drawNoise(chunk, 0, x);
        int evaluations = 0;
        for (int i = 0; i < steps.size(); i++) {
            double t = steps.get(i);
            lastTimestep = t;
            model.forward(x, everyFrame(t), firstFrame, text, cache, activations, v);
            evaluations++;
            float sigma = (float) flow.sigma(t);
            if (i + 1 < steps.size()) {
                // x0 and the next step's input in one pass; the observer still sees this step's x0.
                drawNoise(chunk, i + 1, noiseBuffer);
                backend.flowStep(x, v, noiseBuffer, sigma, (float) flow.sigma(steps.get(i + 1)), x0, x);
            } else {
                backend.flowToX0(x, v, sigma, x0);
            }
            observer.onStep(chunk, i, t, x0);
        }
        if (contextNeeded && rule instanceof ContextRule.Reencode(double t)) {
            if (t == 0) {
                backend.copy(x0, x);
            } else {
                drawNoise(chunk, steps.size(), noiseBuffer);
                backend.addNoise(x0, noiseBuffer, (float) flow.sigma(t), x);
            }
            // Output discarded: the pass exists to overwrite this chunk's cache slots with context-level K/V.
            lastTimestep = t;
            model.forward(x, everyFrame(t), firstFrame, text, cache, activations, v);
            evaluations++;
        }
        return evaluations;
    }

    /**
     * The input of the chunk's last pass, whose K/V the cache keeps (the last step's, or the context pass's),
     * on the backend's device; {@link #lastTimestep()} is its timestep. Only the final step writes x0, so this
     * buffer still holds that input after {@link #denoise}.
     */
    Tensor lastInput() {
        return x;
    }

    double lastTimestep() {
        return lastTimestep;
    }

    /** The last denoised chunk, on the backend's device. */
    Tensor x0() {
        return x0;
    }

    private void drawNoise(int chunk, int draw, Tensor dst) {
        noise.fill(hostNoise, chunk, draw);
        backend.copy(hostNoise, dst);
    }

    private double[] everyFrame(double t) {
        double[] ts = new double[activations.frames()];
        Arrays.fill(ts, t);
        return ts;
    }
}
