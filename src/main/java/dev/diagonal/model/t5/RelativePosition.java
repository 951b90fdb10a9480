package dev.diagonal.model.t5;

/**
 * T5's bidirectional relative-position buckets: half the buckets for keys after the query, half for keys
 * before; within each half, distances below a quarter of the buckets get their own bucket and longer ones
 * share log-spaced buckets up to maxDistance, beyond which all share the last. Computed in float32 as Wan's
 * PyTorch code is, so the log-spaced boundaries (distances 16, 32, 64 with 32 buckets) fall the same way.
 */
public final class RelativePosition {
    private RelativePosition() {
    }

    /** The bucket of a key at relative position {@code rel} = key index - query index. */
    public static int bucket(int rel, int buckets, int maxDistance) {
        int half = buckets / 2;
        int bucket = rel > 0 ? half : 0;
        int dist = Math.abs(rel);
        int exact = half / 2;
        if (dist < exact) {
            return bucket + dist;
        }
        float scale = (float) Math.log((float) maxDistance / exact);
        float far = (float) Math.log((float) dist / exact) / scale * (half - exact);
        return bucket + Math.min(exact + (int) far, half - 1);
    }
}
