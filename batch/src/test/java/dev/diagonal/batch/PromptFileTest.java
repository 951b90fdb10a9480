package dev.diagonal.batch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PromptFileTest {
    @TempDir
    Path dir;

    @Test
    void goodLinesKeepTheirNumbersAndBadLinesSayWhatIsWrong() {
        String text = String.join("\n",
                "\uFEFF{\"prompt\": \"a red circle\", \"seed\": 7}",
                "",
                "{\"prompt\": \"a blue square\"}",
                "{\"prompt\": \"unterminated",
                "[\"a list\"]",
                "{\"seed\": 3}",
                "{\"prompt\": 5}",
                "{\"prompt\": \"x\", \"seed\": 1.5}",
                "{\"prompt\": \"x\", \"seeds\": 2}",
                "   {\"prompt\": \"with \\\"quotes\\\" and é\", \"seed\": -2}   \r",
                "");
        PromptFile f = PromptFile.parse(Path.of("p.jsonl"), text, 42);
        assertEquals(List.of(new PromptFile.Line(1, "a red circle", 7), new PromptFile.Line(3, "a blue square", 42),
                new PromptFile.Line(10, "with \"quotes\" and é", -2)), f.lines());
        assertEquals(List.of(4, 5, 6, 7, 8, 9), f.bad().stream().map(PromptFile.BadLine::number).toList());
        List<String> reasons = f.bad().stream().map(b -> b.describe(Path.of("p.jsonl"))).toList();
        assertTrue(reasons.get(0).startsWith("p.jsonl:4: not JSON: "), reasons.get(0));
        assertEquals("p.jsonl:5: expected a JSON object {\"prompt\": ..., \"seed\": ...}", reasons.get(1));
        assertEquals("p.jsonl:6: no \"prompt\"", reasons.get(2));
        assertEquals("p.jsonl:7: \"prompt\" must be a string", reasons.get(3));
        assertEquals("p.jsonl:8: \"seed\" must be an integer, got 1.5", reasons.get(4));
        assertTrue(reasons.get(5).contains("unknown key 'seeds'"), reasons.get(5));
    }

    @Test
    void aMissingOrNonUtf8FileFailsAsAWhole() throws IOException {
        IOException missing = assertThrows(IOException.class, () -> PromptFile.read(dir.resolve("none.jsonl"), 0));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        Path latin1 = Files.write(dir.resolve("l.jsonl"), new byte[]{'{', '"', 'p', (byte) 0xe9, '"', '}'});
        IOException bad = assertThrows(IOException.class, () -> PromptFile.read(latin1, 0));
        assertTrue(bad.getMessage().contains("not UTF-8"), bad.getMessage());
    }

    @Test
    void clipIdsDependOnWhatDecidesTheBytesOnly() {
        String a = ClipSpec.id("m|s", "a red circle", 1);
        assertEquals(a, ClipSpec.id("m|s", "a red circle", 1));
        assertEquals(16, a.length());
        assertTrue(!a.equals(ClipSpec.id("m|s", "a red circle", 2)) && !a.equals(ClipSpec.id("m|t", "a red circle", 1))
                && !a.equals(ClipSpec.id("m|s", "a red circle ", 1)));
    }
}
