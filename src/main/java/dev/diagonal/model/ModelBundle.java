package dev.diagonal.model;

import dev.diagonal.io.Json;
import dev.diagonal.io.SafetensorsException;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.t5.T5Config;
import dev.diagonal.model.vae.TinyDecoderConfig;
import dev.diagonal.model.vae.VaeConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A model directory ({@code weights/} holds the default one): the DiT, VAE decoder and text encoder
 * checkpoints with their configs, and the stream settings the model was trained for, all described by its
 * {@code model.json}. A trained model is more than its DiT: its own latent statistics, tokenizer, latent
 * size and cache window must travel with it, or it decodes garbage.
 *
 * @param dir         the directory; checkpoint paths are relative to it
 * @param tinyDecoder the tiny decoder trained to imitate the VAE decoder, or null when the model has none
 * @param stream      the settings the model was distilled with (generate's defaults for it)
 */
public record ModelBundle(Path dir, String name, WanConfig dit, Path ditFile, VaeConfig vae, Path vaeFile,
                          TinyDecoderConfig tinyDecoder, Path tinyDecoderFile, T5Config text, Path textFile,
                          String tokenizer, Stream stream) {

    /** Stream defaults: latent size, chunking, cache window, schedule and context rule names, video fps. */
    public record Stream(int latentHeight, int latentWidth, int chunkFrames, int chunks, int window, int sink,
                         String schedule, String context, int fps) {
    }

    public static final String FILE = "model.json";

    /** Reads {@code dir/model.json}; every checkpoint it names must exist. */
    public static ModelBundle load(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new IOException("no model at " + dir + ": " + FILE + " is missing");
        }
        Object root;
        try {
            root = Json.parse(text, file);
        } catch (SafetensorsException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
        try {
            return parse(dir, file, new Reader(file, root, ""));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static ModelBundle parse(Path dir, Path file, Reader r) throws IOException {
        Reader d = r.object("dit");
        Reader dc = d.object("config");
        List<Integer> patch = dc.integers("patch");
        if (patch.size() != 3) {
            throw new IOException(file + ": dit.config.patch must hold 3 sizes (t, h, w)");
        }
        WanConfig dit = new WanConfig(r.string("name"), dc.integer("in_dim"), dc.integer("out_dim"), dc.integer("dim"),
                dc.integer("ffn_dim"), dc.integer("freq_dim"), dc.integer("text_dim"), dc.integer("text_len"),
                dc.integer("num_heads"), dc.integer("num_layers"), patch.get(0), patch.get(1), patch.get(2),
                (float) dc.number("eps"));
        Reader v = r.object("vae");
        Reader vc = v.object("config");
        VaeConfig vae = new VaeConfig(r.string("name") + "-vae", vc.integer("z_dim"), vc.integer("dim"),
                vc.integers("dim_mult"), vc.integer("num_res_blocks"), vc.booleans("temporal_upsample"),
                vc.floats("latent_mean"), vc.floats("latent_std"));
        TinyDecoderConfig tiny = null;
        Path tinyFile = null;
        if (r.has("tiny_decoder")) {
            Reader td = r.object("tiny_decoder");
            Reader tdc = td.object("config");
            tiny = TinyDecoderConfig.imitating(vae, tdc.integers("widths"), tdc.integers("blocks"),
                    tdc.booleans("temporal_upsample"));
            tinyFile = td.file(dir, "file");
            if (!tiny.format().equals(vae.format())) {
                throw new IOException(file + ": tiny_decoder scales " + tiny.format().spatialScale() + "x in space and "
                        + tiny.format().temporalScale() + "x in time, but the VAE it imitates " + vae.spatialScale()
                        + "x and " + vae.temporalScale() + "x");
            }
        }
        Reader t = r.object("text");
        Reader tc = t.object("config");
        T5Config t5 = new T5Config(r.string("name") + "-t5", tc.integer("vocab"), tc.integer("dim"),
                tc.integer("dim_attn"), tc.integer("dim_ffn"), tc.integer("num_heads"), tc.integer("num_layers"),
                tc.integer("num_buckets"), tc.integer("max_distance"), tc.integer("text_len"), (float) tc.number("eps"));
        Reader s = r.object("stream");
        Stream stream = new Stream(s.integer("latent_height"), s.integer("latent_width"), s.integer("chunk_frames"),
                s.integer("chunks"), s.integer("window"), s.integer("sink"), s.string("schedule"), s.string("context"),
                s.integer("fps"));
        ModelBundle b = new ModelBundle(dir, r.string("name"), dit, d.file(dir, "file"), vae, v.file(dir, "file"),
                tiny, tinyFile, t5,
                t.file(dir, "file"), t.string("tokenizer"), stream);
        if (vae.zDim() != dit.outDim() || t5.dim() != dit.textDim()) {
            throw new IOException(file + ": the parts do not fit: VAE z_dim " + vae.zDim() + " vs DiT out_dim "
                    + dit.outDim() + ", T5 dim " + t5.dim() + " vs DiT text_dim " + dit.textDim());
        }
        return b;
    }

    /** Typed access to one JSON object, with errors that name the file and the key path. */
    private record Reader(Path file, Object node, String path) {
        private Object get(String key) throws IOException {
            if (!(node instanceof Map<?, ?> m)) {
                throw error(path, "is not an object");
            }
            Object o = m.get(key);
            if (o == null) {
                throw error(path + key, "is missing");
            }
            return o;
        }

        boolean has(String key) {
            return node instanceof Map<?, ?> m && m.containsKey(key);
        }

        Reader object(String key) throws IOException {
            Object o = get(key);
            if (!(o instanceof Map<?, ?>)) {
                throw error(path + key, "must be an object");
            }
            return new Reader(file, o, path + key + ".");
        }

        String string(String key) throws IOException {
            if (!(get(key) instanceof String s) || s.isBlank()) {
                throw error(path + key, "must be a non-empty string");
            }
            return s;
        }

        double number(String key) throws IOException {
            return asNumber(get(key), path + key);
        }

        int integer(String key) throws IOException {
            return asInt(get(key), path + key);
        }

        List<Integer> integers(String key) throws IOException {
            List<Integer> out = new ArrayList<>();
            for (Object o : list(key)) {
                out.add(asInt(o, path + key));
            }
            return out;
        }

        List<Float> floats(String key) throws IOException {
            List<Float> out = new ArrayList<>();
            for (Object o : list(key)) {
                double x = asNumber(o, path + key);
                if (!Double.isFinite(x)) {
                    throw error(path + key, "holds a non-finite number");
                }
                out.add((float) x);
            }
            return out;
        }

        List<Boolean> booleans(String key) throws IOException {
            List<Boolean> out = new ArrayList<>();
            for (Object o : list(key)) {
                if (!(o instanceof Boolean b)) {
                    throw error(path + key, "must hold only true or false");
                }
                out.add(b);
            }
            return out;
        }

        Path file(Path dir, String key) throws IOException {
            String name = string(key);
            Path p = dir.resolve(name).normalize();
            if (!p.startsWith(dir.normalize())) {
                throw error(path + key, "must name a file inside " + dir);
            }
            if (!Files.isRegularFile(p)) {
                throw error(path + key, "names " + p + ", which does not exist");
            }
            return p;
        }

        private List<?> list(String key) throws IOException {
            if (!(get(key) instanceof List<?> l)) {
                throw error(path + key, "must be an array");
            }
            return l;
        }

        private double asNumber(Object o, String where) throws IOException {
            // The parser gives integers that fit as Long, every other number as its text.
            if (o instanceof Long l) {
                return l;
            }
            if (!(o instanceof Json.Num n)) {
                throw error(where, "must be a number");
            }
            return Double.parseDouble(n.text());
        }

        private int asInt(Object o, String where) throws IOException {
            double x = asNumber(o, where);
            if (x != Math.rint(x) || Math.abs(x) > (1 << 30)) {
                throw error(where, "must be an integer, got " + x);
            }
            return (int) x;
        }

        private IOException error(String where, String what) {
            return new IOException(file + ": " + where + " " + what);
        }
    }
}
