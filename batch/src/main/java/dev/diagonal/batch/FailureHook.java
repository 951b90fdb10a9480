package dev.diagonal.batch;

import java.io.IOException;
import java.io.Serializable;

/**
 * A test hook: the first attempt of the task making the clip of prompt-file line {@code line} fails after
 * writing {@code afterFrames} frames, as an executor that dies mid-clip would; Spark then retries the task.
 * Given with {@code --fail-first-attempt LINE:FRAMES}.
 */
public record FailureHook(int line, int afterFrames) implements Serializable {

    static FailureHook parse(String s) {
        String[] parts = s.split(":");
        try {
            if (parts.length == 2) {
                int line = Integer.parseInt(parts[0]);
                int frames = Integer.parseInt(parts[1]);
                if (line >= 1 && frames >= 1) {
                    return new FailureHook(line, frames);
                }
            }
        } catch (NumberFormatException e) {
            // falls through to the usage error
        }
        throw new IllegalArgumentException("--fail-first-attempt takes LINE:FRAMES (both at least 1), got '" + s + "'");
    }

    /** Called after each frame of a clip's attempt; throws once the attempt should die. */
    void frame(ClipSpec clip, int attempt, long framesWritten) throws IOException {
        if (attempt == 0 && clip.line() == line && framesWritten >= afterFrames) {
            throw new IOException("test hook: attempt 0 of line " + line + " killed after " + framesWritten + " frames");
        }
    }
}
