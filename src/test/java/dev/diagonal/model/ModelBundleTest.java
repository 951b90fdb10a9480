package dev.diagonal.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelBundleTest {
    @TempDir
    Path dir;

    @Test
    void readsEveryPart() throws IOException {
        ModelBundle b = ModelBundle.load(ModelBundleFixture.write(dir));
        assertEquals("fixture", b.name());
        assertEquals(64, b.dit().dim());
        assertEquals(4, b.vae().temporalScale());
        assertEquals(2f, b.vae().latentStd().getLast());
        assertEquals(0.5f, b.vae().latentMean().getLast());
        assertEquals(160, b.text().textLen());
        assertEquals("bytes", b.tokenizer());
        assertEquals(new ModelBundle.Stream(4, 4, 3, 2, 6, 0, "diagonal-4-3-2", "reuse", 12), b.stream());
        assertEquals(dir.resolve("vae.safetensors"), b.vaeFile());
        assertEquals(java.util.List.of(8, 6, 4, 4), b.tinyDecoder().widths());
        assertEquals(b.vae().format(), b.tinyDecoder().format());
        assertEquals(dir.resolve("tiny_decoder.safetensors"), b.tinyDecoderFile());
    }

    @Test
    void theTinyDecoderIsOptionalAndMustFitTheVae() throws IOException {
        ModelBundleFixture.write(dir);
        String json = ModelBundleFixture.JSON;
        String without = json.replaceAll("(?s)\\s*\"tiny_decoder\": \\{.*?\\}\\},", "");
        Files.writeString(dir.resolve(ModelBundle.FILE), without);
        assertNull(ModelBundle.load(dir).tinyDecoder());
        assertBad(json.replace("\"widths\": [8, 6, 4, 4]", "\"widths\": [8, 6, 4]"), "a width and a block count per level");
        assertBad(json.replace("[true, true, false]}}", "[true, false, false]}}"), "tiny_decoder scales 8x in space and 2x");
        assertBad(json.replace("\"tiny_decoder.safetensors\"", "\"taehv.pth\""), "tiny_decoder.file names");
    }

    @Test
    void badDirectoriesFailNamingTheFileAndTheKey() throws IOException {
        ModelBundleFixture.write(dir);
        String json = ModelBundleFixture.JSON;
        assertBad(json.replace("\"fps\": 12", "\"fps\": \"12\""), "stream.fps must be a number");
        assertBad(json.replace("\"chunks\": 2,", ""), "stream.chunks is missing");
        assertBad(json.replace("\"num_heads\": 2,", "\"num_heads\": 2.5,"), "dit.config.num_heads must be an integer");
        assertBad(json.replace("\"vae.safetensors\"", "\"../vae.safetensors\""), "vae.file must name a file inside");
        assertBad(json.replace("\"t5.safetensors\"", "\"t5.bin\""), "text.file names");
        assertBad(json.replace("\"text_dim\": 32", "\"text_dim\": 48"), "the parts do not fit");
        assertBad(json.replace("\"num_heads\": 2,", "\"num_heads\": 3,"), "not a multiple of numHeads");
        assertBad(json.replace("[true, true, false]", "[true, 1, false]"), "must hold only true or false");
        assertBad("{\"name\": ", "model.json");
        Files.delete(dir.resolve(ModelBundle.FILE));
        IOException e = assertThrows(IOException.class, () -> ModelBundle.load(dir));
        assertTrue(e.getMessage().contains("model.json is missing"), e.getMessage());
    }

    private void assertBad(String json, String expected) throws IOException {
        Files.writeString(dir.resolve(ModelBundle.FILE), json);
        IOException e = assertThrows(IOException.class, () -> ModelBundle.load(dir));
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
        assertTrue(e.getMessage().contains(dir.resolve(ModelBundle.FILE).toString()), "names the file: " + e.getMessage());
    }
}
