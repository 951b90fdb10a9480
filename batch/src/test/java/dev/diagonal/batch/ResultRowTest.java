package dev.diagonal.batch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class ResultRowTest {
    @TempDir
    Path dir;

    @Test
    void aRowSurvivesItsJsonAndComesBackResumed() throws Exception {
        ResultRow row = new ResultRow("0123456789abcdef", 3, "a \"red\"\ncircle\\", -5, "clips/0123456789abcdef.y4m",
                "fixture", "2 chunks x 3", 32, 32, 12, 21, 0.25, 1.5, 2.0, 0.5, 9.5, "driver", 1, false,
                new ClipFigures(null, "circle", "right", Double.NaN));
        Path target = dir.resolve("row.json");
        row.write(target, dir.resolve("row.json.tmp"));
        assertFalse(Files.exists(dir.resolve("row.json.tmp")));
        ResultRow back = ResultRow.read(target);
        assertEquals(row.figures().shape(), back.figures().shape());
        assertEquals(Double.NaN, back.figures().speed());
        ResultRow expected = new ResultRow(row.id(), 3, row.prompt(), -5, row.path(), row.model(), row.settings(), 32, 32, 12,
                21, 0.25, 1.5, 2.0, 0.5, 9.5, "driver", 1, false, back.figures());
        assertEquals(expected, back);
        assertEquals(true, back.asResumed(4).resumed());
        assertEquals(4, back.asResumed(4).line());

        ResultRow plain = new ResultRow("x", 1, "p", 1, "clips/x.y4m", "m", "s", 1, 1, 1, 1, 0, 0, 0, 0, 0, "1", 0, false, null);
        plain.write(target, dir.resolve("t"));
        assertEquals(plain, ResultRow.read(target));
    }
}
