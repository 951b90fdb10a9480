package dev.diagonal.stream;

import dev.diagonal.schedule.ContextRule;
import dev.diagonal.schedule.DiagonalSchedule;

/**
 * What a stream generates: how many chunks of how many latent frames at which latent size, with which step
 * schedule and context rule, and how much history the KV cache keeps.
 *
 * @param windowFrames latent frames the cache keeps (0: the whole video); with a sink, the oldest non-sink frames
 *                     are evicted when a new chunk does not fit
 * @param sinkFrames   leading frames never evicted (0: none)
 */
public record StreamSettings(int chunks, int chunkFrames, int latentHeight, int latentWidth,
                             DiagonalSchedule schedule, ContextRule contextRule, int windowFrames, int sinkFrames) {

    /** A guard against absurd requests: 1024 latent frames is the RoPE table's length. */
    public static final int MAX_FRAMES = 1024;

    public StreamSettings {
        if (chunks < 1) {
            throw new IllegalArgumentException("chunks must be at least 1, got " + chunks);
        }
        if (chunkFrames < 1 || chunkFrames > 64) {
            throw new IllegalArgumentException("chunk frames must be in [1, 64], got " + chunkFrames);
        }
        if (latentHeight < 1 || latentWidth < 1 || latentHeight > 1024 || latentWidth > 1024) {
            throw new IllegalArgumentException("latent size " + latentHeight + "x" + latentWidth + " outside [1, 1024]");
        }
        if (windowFrames < 0 || sinkFrames < 0) {
            throw new IllegalArgumentException("window and sink must not be negative");
        }
        if (windowFrames > 0 && windowFrames < sinkFrames + chunkFrames) {
            throw new IllegalArgumentException("a window of " + windowFrames + " frames cannot hold a sink of "
                    + sinkFrames + " and a chunk of " + chunkFrames);
        }
        if (windowFrames == 0 && sinkFrames > 0) {
            throw new IllegalArgumentException("a sink needs a window (--window)");
        }
        if ((long) chunks * chunkFrames > MAX_FRAMES) {
            throw new IllegalArgumentException(chunks + " chunks of " + chunkFrames + " frames exceed the "
                    + MAX_FRAMES + " latent frames absolute RoPE positions can address");
        }
        if (schedule == null || contextRule == null) {
            throw new IllegalArgumentException("schedule and context rule are required");
        }
    }

    /** One line for logs: chunking, latent size, schedule, context rule and what the KV cache keeps. */
    public String describe() {
        String cache = windowFrames == 0 ? "whole stream"
                : windowFrames + " frames" + (sinkFrames > 0 ? ", the first " + sinkFrames + " kept as a sink" : "");
        return "%d chunks x %d latent frames at %dx%d, schedule %s, context %s, cache %s".formatted(chunks, chunkFrames,
                latentHeight, latentWidth, schedule, contextRule, cache);
    }

    /** Latent frames in the whole stream. */
    public int totalFrames() {
        return chunks * chunkFrames;
    }

    /** Frames the KV cache holds at most. */
    public int cacheFrames() {
        return windowFrames == 0 ? totalFrames() : Math.min(windowFrames, totalFrames());
    }

    /** The sink in effect: none when the whole stream fits the window (nothing is ever evicted). */
    public int effectiveSinkFrames() {
        return cacheFrames() < totalFrames() ? sinkFrames : 0;
    }
}
