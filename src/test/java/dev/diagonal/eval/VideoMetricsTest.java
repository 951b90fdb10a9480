package dev.diagonal.eval;

import dev.diagonal.io.Json;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VideoMetricsTest {
    static final int SIZE = 64;
    static final Map<String, double[]> PALETTE = Map.of("red", new double[]{0.9, 0.12, 0.1},
            "blue", new double[]{0.15, 0.35, 0.95}, "white", new double[]{0.96, 0.96, 0.96});

    /** A shape drawn as tools/train/world.py draws it (signed distance, one-pixel soft edge). */
    static byte[] frame(String shape, double cx, double cy, double r, double[] colour, double[] background) {
        byte[] rgb = new byte[SIZE * SIZE * 3];
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                double d = switch (shape) {
                    case "circle" -> Math.hypot(dx, dy) - r;
                    case "square" -> Math.max(Math.abs(dx), Math.abs(dy)) - r * 0.85;
                    case "diamond" -> (Math.abs(dx) + Math.abs(dy)) / Math.sqrt(2) - r * 0.75;
                    case "triangle" -> {
                        double yy = -dy + r * 0.25;
                        yield Math.max(-yy - r * 0.5, (Math.sqrt(3) * Math.abs(dx) + yy) / 2 - r * 0.5);
                    }
                    default -> throw new IllegalArgumentException(shape);
                };
                double m = Math.clamp(0.5 - d, 0, 1);
                for (int c = 0; c < 3; c++) {
                    rgb[3 * (y * SIZE + x) + c] = (byte) Math.round(255 * (background[c] * (1 - m) + colour[c] * m));
                }
            }
        }
        return rgb;
    }

    static List<byte[]> clip(String shape, String colour, double vx, double vy) {
        List<byte[]> frames = new ArrayList<>();
        for (int t = 0; t < 17; t++) {
            frames.add(frame(shape, 32 - 10 * Math.signum(vx) + vx * t, 32 - 10 * Math.signum(vy) + vy * t, 8,
                    PALETTE.get(colour), new double[]{0.05, 0.08, 0.3}));
        }
        return frames;
    }

    @Test
    void readsColourShapeAndDirectionOfDrawnClips() {
        VideoMetrics vm = new VideoMetrics(SIZE, SIZE);
        String[][] cases = {{"circle", "red", "right"}, {"square", "white", "up"}, {"triangle", "red", "left"},
                {"diamond", "white", "down"}};
        for (String[] c : cases) {
            double vx = c[2].equals("right") ? 1.8 : c[2].equals("left") ? -1.8 : 0;
            double vy = c[2].equals("down") ? 1.8 : c[2].equals("up") ? -1.8 : 0;
            List<byte[]> frames = clip(c[0], c[1], vx, vy);
            List<boolean[]> masks = frames.stream().map(vm::objectMask).toList();
            List<double[]> track = masks.stream().map(vm::centroid).toList();
            assertEquals(c[1], vm.colour(frames, masks, PALETTE), String.join(" ", c));
            assertEquals(c[0], vm.shape(masks), String.join(" ", c));
            assertEquals(c[2], vm.direction(track), String.join(" ", c));
            assertEquals(1.8, VideoMetrics.speed(track), 0.05);
        }
    }

    /**
     * tools/eval/shape_golden.py's drawings (shapes rounded, bowed and stretched step by step): the moments
     * agree with PyTorch's to 1e-9, the readings exactly, and every drawing a person names reads as named.
     */
    @Test
    void shapeMomentsAndReadingsMatchPyTorchAndAPersonOnRoundedShapes() throws Exception {
        List<?> drawings = (List<?>) Json.parse(resource("/golden/shape_moments.json"), Path.of("shape_moments.json"));
        assertTrue(drawings.size() > 40, "the golden file holds the drawings");
        int named = 0;
        for (Object o : drawings) {
            Map<?, ?> d = (Map<?, ?>) o;
            int size = ((Long) d.get("size")).intValue();
            List<?> rows = (List<?>) d.get("rows");
            boolean[] mask = new boolean[size * size];
            for (int y = 0; y < size; y++) {
                String row = (String) rows.get(y);
                for (int x = 0; x < size; x++) {
                    mask[y * size + x] = row.charAt(x) == '#';
                }
            }
            VideoMetrics vm = new VideoMetrics(size, size);
            String name = (String) d.get("name");
            double[] moments = vm.shapeMoments(mask);
            if (d.get("m3") == Json.NULL) {
                assertNull(moments, name);
            } else {
                List<?> m3 = (List<?>) d.get("m3"), m4 = (List<?>) d.get("m4");
                double[] expected = {num(m3.get(0)), num(m3.get(1)), num(m4.get(0)), num(m4.get(1))};
                assertArrayEquals(expected, moments, 1e-9, name);
            }
            Object read = d.get("read");
            assertEquals(read == Json.NULL ? null : read, vm.shapeOfMask(mask), name);
            if (d.get("named") != Json.NULL) {
                assertEquals(d.get("named"), vm.shapeOfMask(mask), name);
                named++;
            }
        }
        assertTrue(named > 30, "most drawings have a name to check against");
    }

    private static double num(Object o) {
        return o instanceof Long l ? l : Double.parseDouble(((Json.Num) o).text());
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = VideoMetricsTest.class.getResourceAsStream(name)) {
            assertTrue(in != null, name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** A video reads as the shape seen in more than two thirds of its whole frames, else as none. */
    @Test
    void aShapeCountsOnlyWhereItHolds() {
        VideoMetrics vm = new VideoMetrics(SIZE, SIZE);
        double[] bg = {0.05, 0.08, 0.3};
        boolean[] square = vm.objectMask(frame("square", 32, 32, 11, PALETTE.get("white"), bg));
        boolean[] triangle = vm.objectMask(frame("triangle", 32, 32, 11, PALETTE.get("white"), bg));
        List<boolean[]> mostly = new ArrayList<>(java.util.Collections.nCopies(7, square));
        mostly.addAll(java.util.Collections.nCopies(3, triangle));
        assertEquals("square", vm.shape(mostly));
        List<boolean[]> twoThirds = new ArrayList<>(java.util.Collections.nCopies(6, square));
        twoThirds.addAll(java.util.Collections.nCopies(3, triangle));
        assertNull(vm.shape(twoThirds), "exactly two thirds is not more than two thirds");
        List<boolean[]> flicker = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            flicker.add(square);
            flicker.add(triangle);
        }
        assertNull(vm.shape(flicker));
    }

    /** As test_eval.py's: a golden yellow disc on black whose edge fades over 2 px reads yellow from its inside. */
    @Test
    void colourIsReadInsideTheOutline() {
        VideoMetrics vm = new VideoMetrics(SIZE, SIZE);
        double[] golden = {0.92, 0.78, 0.12};
        byte[] rgb = new byte[SIZE * SIZE * 3];
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                double cover = Math.clamp(0.5 - (Math.hypot(x - 31.5, y - 31.5) - 8) / 2, 0, 1);
                for (int c = 0; c < 3; c++) {
                    rgb[3 * (y * SIZE + x) + c] = (byte) Math.round(255 * golden[c] * cover);
                }
            }
        }
        Map<String, double[]> palette = Map.of("yellow", new double[]{0.95, 0.88, 0.10},
                "orange", new double[]{0.98, 0.55, 0.08}, "white", new double[]{0.96, 0.96, 0.96});
        boolean[] mask = vm.objectMask(rgb);
        assertEquals("yellow", vm.colour(List.of(rgb), List.of(mask), palette));
        // the same disc's outline alone (no pixel with all 8 neighbours in it) is read as it is: orange's reach
        boolean[] outline = new boolean[mask.length];
        for (int i = 0; i < mask.length; i++) {
            double r = Math.hypot(i % SIZE - 31.5, i / SIZE - 31.5);
            outline[i] = mask[i] && r > 7.5;
        }
        assertEquals("orange", vm.colour(List.of(rgb), List.of(outline), palette));
    }

    @Test
    void anEmptyOrStaticVideoReadsAsNothing() {
        VideoMetrics vm = new VideoMetrics(SIZE, SIZE);
        List<byte[]> frames = clip("circle", "blue", 0, 0);
        List<double[]> track = frames.stream().map(vm::objectMask).map(vm::centroid).toList();
        assertNull(vm.direction(track), "a static object has no direction");
        byte[] blank = new byte[SIZE * SIZE * 3];
        assertNull(vm.centroid(vm.objectMask(blank)));
        assertNull(vm.shape(List.of(vm.objectMask(blank))));
        assertEquals(0, vm.saturation(blank), 1e-12);
        assertTrue(vm.saturation(frames.getFirst()) > 0.5, "a blue background is saturated");
    }

    @Test
    void theBackgroundIsReadPastTheObjectAndATintShows() {
        VideoMetrics vm = new VideoMetrics(SIZE, SIZE);
        double[] gray = {0.4, 0.4, 0.4};
        List<byte[]> clean = new ArrayList<>(), hazed = new ArrayList<>();
        for (int t = 0; t < 8; t++) {   // a large white square: a fifth of the frame, still not the median
            clean.add(frame("square", 20 + 2 * t, 32, 13, PALETTE.get("white"), gray));
            hazed.add(frame("square", 20 + 2 * t, 32, 13, PALETTE.get("white"), new double[]{0.45, 0.36, 0.46}));
        }
        // 8-bit quantisation of 0.4 is the only error: 102/255 = 0.4
        assertEquals(0, vm.backgroundError(clean, gray), 1e-9);
        assertArrayEquals(gray, vm.background(clean.getFirst()), 1e-9);
        double tint = Math.sqrt(0.05 * 0.05 + 0.04 * 0.04 + 0.06 * 0.06);
        assertEquals(tint, vm.backgroundError(hazed, gray), 2.0 / 255);
        assertTrue(vm.backgroundError(hazed, gray) > VideoMetrics.TINTED, "a purple haze on gray reads as tinted");
    }
}
