package dev.diagonal.batch;

import dev.diagonal.eval.VideoMetrics;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * A clip's eval figures, read from its frames with the deterministic vision code {@code diagonal eval} uses:
 * the object's colour (the nearest palette entry; null without a palette), shape, direction of motion and
 * mean speed in pixels per frame (NaN when no object was seen). Any of the words is null when unseen.
 */
public record ClipFigures(String colour, String shape, String direction, double speed) implements Serializable {

    /** Reads the frames (RGB8, {@code width x height}) against {@code palette} (may be null). */
    public static ClipFigures of(List<byte[]> frames, int width, int height, Map<String, double[]> palette) {
        VideoMetrics vm = new VideoMetrics(width, height);
        List<boolean[]> masks = frames.stream().map(vm::objectMask).toList();
        List<double[]> track = masks.stream().map(vm::centroid).toList();
        return new ClipFigures(palette == null ? null : vm.colour(frames, masks, palette), vm.shape(masks),
                vm.direction(track), VideoMetrics.speed(track));
    }
}
