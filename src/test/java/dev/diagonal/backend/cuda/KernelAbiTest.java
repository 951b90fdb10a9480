package dev.diagonal.backend.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java launcher and the kernels agree on every kernel's parameter list, without a GPU: each {@link Kernel}'s
 * {@code parameters} against the {@code .entry} declarations of the PTX it loads (a pointer or long long is .u64,
 * an int .u32, a float .f32), and every entry in the PTX has a Kernel. A kernel reads its parameters by offset,
 * so a mismatch would not fail at launch but silently read shifted arguments.
 */
class KernelAbiTest {
    private static final Pattern ENTRY = Pattern.compile("\\.visible \\.entry (\\w+)\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile("\\.param \\.(\\w+) ");

    @Test
    void everyKernelsParametersMatchItsPtxEntry() throws IOException {
        Map<String, Map<String, String>> entries = new LinkedHashMap<>();
        for (Kernel k : Kernel.values()) {
            Map<String, String> inFile = entries.computeIfAbsent(k.file, KernelAbiTest::entriesOf);
            String ptxTypes = inFile.get(k.symbol);
            assertNotNull(ptxTypes, k.file + ".ptx has no entry " + k.symbol);
            assertEquals(ptxTypes, ptxTypes(k.parameters), k.symbol + ": Kernel says (" + k.parameters
                    + "), the PTX declares (" + ptxTypes + ")");
        }
        for (var file : entries.entrySet()) {
            for (String symbol : file.getValue().keySet()) {
                assertTrue(List.of(Kernel.values()).stream().anyMatch(k -> k.symbol.equals(symbol)),
                        file.getKey() + ".ptx has an entry no Kernel launches: " + symbol);
            }
        }
    }

    @Test
    void launchArgumentsOfTheWrongTypesAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            KernelArgs good = new KernelArgs(arena).clear().address(1).address(2).f32(0.5f).address(3).i64(4);
            good.checkAgainst(Kernel.FLOW_TO_X0);
            KernelArgs intForLong = new KernelArgs(arena).clear().address(1).address(2).f32(0.5f).address(3).i32(4);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> intForLong.checkAgainst(Kernel.FLOW_TO_X0));
            assertTrue(e.getMessage().contains("flow_to_x0_f32") && e.getMessage().contains("(ppfpi)"), e.getMessage());
            KernelArgs missing = new KernelArgs(arena).clear().address(1).address(2).f32(0.5f).address(3);
            assertThrows(IllegalStateException.class, () -> missing.checkAgainst(Kernel.FLOW_TO_X0));
        }
    }

    /** The PTX type list of a parameter string: p and l are 64-bit, i 32-bit, f float. */
    private static String ptxTypes(String parameters) {
        List<String> types = new ArrayList<>();
        for (char c : parameters.toCharArray()) {
            types.add(switch (c) {
                case 'p', 'l' -> "u64";
                case 'i' -> "u32";
                case 'f' -> "f32";
                default -> throw new AssertionError("unknown parameter kind " + c + " in " + parameters);
            });
        }
        return String.join(" ", types);
    }

    /** Entry name to its parameters' PTX types, space separated, for one PTX resource. */
    private static Map<String, String> entriesOf(String file) {
        String resource = "kernels/" + file + ".ptx";
        try (InputStream in = Kernel.class.getResourceAsStream(resource)) {
            assertNotNull(in, "no classpath resource " + resource + " beside Kernel");
            String ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            Map<String, String> entries = new LinkedHashMap<>();
            Matcher m = ENTRY.matcher(ptx);
            while (m.find()) {
                List<String> types = new ArrayList<>();
                Matcher p = PARAM.matcher(m.group(2));
                while (p.find()) {
                    types.add(p.group(1));
                }
                entries.put(m.group(1), String.join(" ", types));
            }
            return entries;
        } catch (IOException e) {
            throw new AssertionError("cannot read " + resource, e);
        }
    }
}
