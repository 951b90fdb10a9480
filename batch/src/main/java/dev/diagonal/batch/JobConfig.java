package dev.diagonal.batch;

import java.io.Serializable;
import java.util.List;

/**
 * What every task of a job needs to know, shipped to executors with the tasks (plain strings: Path is not
 * Serializable).
 *
 * @param out          the output directory, the same path on the driver and every executor (a shared filesystem
 *                     on a cluster)
 * @param engineFlags  generate's flags for the model and stream (--model, --chunks, --threads, ...)
 * @param defaultModel the model directory used when the flags name none (the launcher's weights/), or null
 * @param eval         compute each clip's eval figures (colour, shape, direction, motion speed)
 * @param hook         a test hook that fails one attempt, or null
 */
public record JobConfig(String out, List<String> engineFlags, String defaultModel, boolean eval, FailureHook hook)
        implements Serializable {
    public JobConfig {
        engineFlags = List.copyOf(engineFlags);
    }
}
