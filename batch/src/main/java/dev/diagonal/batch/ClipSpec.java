package dev.diagonal.batch;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One clip of a job, as a task receives it.
 *
 * @param id   names the clip's files: a hash of everything that decides its bytes (model, stream settings,
 *             video size, prompt, seed), so a rerun finds the clips it already made even after lines were
 *             added to or moved in the prompt file, and a changed setting never reuses a stale clip
 * @param line the prompt file's line that asked for it
 */
public record ClipSpec(String id, int line, String prompt, long seed) implements Serializable {

    /** The id of a clip: 16 hex digits of SHA-256 over its identity, one field per line. */
    public static String id(String identity, String prompt, long seed) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update((identity + "\n" + seed + "\n" + prompt).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    /** The clip's video, relative to the job's output directory. */
    public String videoPath() {
        return "clips/" + id + ".y4m";
    }

    /** The clip's result row (JSON), relative to the job's output directory: written last, so it marks done. */
    public String rowPath() {
        return "rows/" + id + ".json";
    }
}
