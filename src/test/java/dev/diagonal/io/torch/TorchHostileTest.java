package dev.diagonal.io.torch;

import dev.diagonal.io.torch.TorchFiles.Pickle;
import dev.diagonal.io.torch.TorchFormatException.Reason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pickles and zips written to attack the reader: code execution through globals, object-building opcodes,
 * lengths far past the file, deep nesting and value bombs, tensors that reach outside their storage. Each must be
 * refused with a TorchFormatException of the right reason whose message names the culprit, and nothing may be
 * executed, allocated without bound, or read out of bounds.
 */
class TorchHostileTest {
    @TempDir
    Path dir;

    private TorchFormatException refuse(byte[] pickle, Reason reason, String named) throws IOException {
        return refuseFile(TorchFiles.checkpoint(pickle, Map.of()), reason, named);
    }

    private TorchFormatException refuseFile(byte[] file, Reason reason, String named) throws IOException {
        Path p = dir.resolve("hostile.pt");
        Files.write(p, file);
        TorchFormatException e = assertThrows(TorchFormatException.class, () -> TorchCheckpoint.open(p, List.of()));
        assertEquals(reason, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains(named), "message names " + named + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        return e;
    }

    @Test
    void osSystemThroughGlobalAndReduceIsRefusedBeforeAnyCall() throws IOException {
        Path marker = dir.resolve("pwned");
        byte[] p = new Pickle().proto().global("os", "system").str("touch " + marker).op(0x85, 'R', '.').bytes();
        refuse(p, Reason.FORBIDDEN_GLOBAL, "os.system");
        assertTrue(Files.notExists(marker));
        refuse(new Pickle().proto().global("posix", "system").bytes(), Reason.FORBIDDEN_GLOBAL, "posix.system");
        refuse(new Pickle().proto().global("builtins", "eval").bytes(), Reason.FORBIDDEN_GLOBAL, "builtins.eval");
        refuse(new Pickle().proto().global("torch", "load").bytes(), Reason.FORBIDDEN_GLOBAL, "torch.load");
        // Protocol 4's STACK_GLOBAL takes its names from the stack.
        refuse(new Pickle().op(0x80, 4).str("subprocess").str("Popen").op(0x93).bytes(), Reason.FORBIDDEN_GLOBAL,
                "subprocess.Popen");
    }

    @Test
    void objectBuildingAndOutOfBandOpcodesAreRefusedByName() throws IOException {
        Map<Integer, String> ops = Map.of((int) 'i', "INST", (int) 'o', "OBJ", 0x81, "NEWOBJ", 0x92, "NEWOBJ_EX",
                0x82, "EXT1", (int) 'P', "PERSID", 0x96, "BYTEARRAY8", 0x97, "NEXT_BUFFER", 0x8f, "EMPTY_SET",
                (int) 'S', "STRING");
        for (Map.Entry<Integer, String> e : ops.entrySet()) {
            refuse(new Pickle().proto().op('(', e.getKey()).bytes(), Reason.FORBIDDEN_OPCODE, e.getValue());
        }
        refuse(new Pickle().proto().op(0xff).bytes(), Reason.BAD_PICKLE, "unknown opcode 0xff");
    }

    @Test
    void allowedGlobalsCannotBeMisused() throws IOException {
        // A storage type names a dtype; calling it would construct a storage.
        refuse(new Pickle().proto().global("torch", "FloatStorage").op(')', 'R').bytes(), Reason.BAD_PICKLE,
                "cannot be called");
        refuse(new Pickle().proto().global("collections", "OrderedDict").str("x").op(0x85, 'R').bytes(),
                Reason.BAD_PICKLE, "OrderedDict");
        refuse(new Pickle().proto().global("torch._utils", "_rebuild_tensor_v2").op(')', 'R').bytes(),
                Reason.BAD_PICKLE, "_rebuild_tensor_v2");
        refuse(new Pickle().proto().op(']').op(')', 'b').bytes(), Reason.BAD_PICKLE, "BUILD");
        refuse(new Pickle().proto().op('(').str("storage").global("os", "system").bytes(), Reason.FORBIDDEN_GLOBAL, "os.system");
        refuse(new Pickle().proto().op('(').str("storage").str("x").op('t', 'Q').bytes(), Reason.BAD_PICKLE, "persistent id");
    }

    @Test
    void hugeLengthsAreRefusedBeforeAllocation() throws IOException {
        refuse(new Pickle().proto().op('X').u32(0xFFFFFFFFL).bytes(), Reason.TOO_LARGE, "BINUNICODE length 4294967295");
        refuse(new Pickle().proto().op('B').u32(0x7FFFFFF0L).bytes(), Reason.TOO_LARGE, "BINBYTES length");
        refuse(new Pickle().proto().op(0x8e, 0, 0, 0, 0, 0, 0, 0, 0x40).bytes(), Reason.TOO_LARGE, "BINBYTES8 length");
        refuse(new Pickle().proto().op(0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).bytes(), Reason.TOO_LARGE,
                "BINUNICODE8 length");
        refuse(new Pickle().proto().op(0x8b).u32(0x7FFFFFFFL).bytes(), Reason.TOO_LARGE, "LONG4");
        byte[] longLine = new byte[5000];
        Arrays.fill(longLine, (byte) 'a');
        refuse(new Pickle().proto().op('c').raw(longLine).bytes(), Reason.TOO_LARGE, "GLOBAL argument");
    }

    @Test
    void deepNestingAndCyclesNeitherOverflowTheStackNorLoop() throws IOException {
        int depth = 50_000; // far past what a recursive reader survives (a few thousand frames)
        Pickle lists = new Pickle().proto();
        for (int i = 0; i < depth; i++) {
            lists.op(']');
        }
        for (int i = 0; i < depth - 1; i++) {
            lists.op('a');
        }
        refuse(lists.op('.').bytes(), Reason.NO_STATE_DICT, "list");
        // Dicts nested under the nesting keys: the state-dict search follows three levels and stops.
        Pickle dicts = new Pickle().proto();
        for (int i = 0; i < depth; i++) {
            dicts.op('}').str("model");
        }
        dicts.op('}');
        for (int i = 0; i < depth; i++) {
            dicts.op('s');
        }
        refuse(dicts.op('.').bytes(), Reason.NO_STATE_DICT, "no dict of tensors");
        // A list that contains itself, under "generator".
        byte[] cycle = new Pickle().proto().op('}').str("generator").op(']', 'q', 0, 'h', 0, 'a', 's', '.').bytes();
        refuse(cycle, Reason.NO_STATE_DICT, "no dict of tensors");
        // 2 x 10^5 marks and nothing else: bounded by the input, refused for its missing STOP.
        byte[] marks = new byte[200_002];
        Arrays.fill(marks, (byte) '(');
        marks[0] = (byte) 0x80;
        marks[1] = 2;
        refuse(marks, Reason.BAD_PICKLE, "without a STOP");
    }

    @Test
    void valueBombsHitTheValueLimit() throws IOException {
        // Each DUP of a list costs one byte of input and one stack slot: the limit stops it, not the heap.
        int n = (int) Unpickler.MAX_VALUES + 10;
        byte[] p = new byte[n + 4];
        Arrays.fill(p, (byte) '2');
        p[0] = (byte) 0x80;
        p[1] = 2;
        p[2] = ']';
        refuse(p, Reason.TOO_LARGE, "more than " + Unpickler.MAX_VALUES + " values");
    }

    @Test
    void malformedPicklesAreSpecific() throws IOException {
        refuse(new Pickle().proto().op('h', 7).bytes(), Reason.BAD_PICKLE, "memo entry 7");
        refuse(new Pickle().proto().op('a').bytes(), Reason.BAD_PICKLE, "stack underflow");
        refuse(new Pickle().proto().op('e').bytes(), Reason.BAD_PICKLE, "no MARK");
        refuse(new Pickle().proto().op('J', 1).bytes(), Reason.BAD_PICKLE, "truncated");
        refuse(new Pickle().proto().op(']', '}', ']', ']', 's').bytes(), Reason.BAD_PICKLE, "dict key");
        refuse(new Pickle().proto().op(']', 'K', 1, 'K', 2, 's').bytes(), Reason.BAD_PICKLE, "not a dict");
        refuse(new Pickle().op(0x80, 9).bytes(), Reason.BAD_PICKLE, "protocol 9");
    }

    @Test
    void tensorsMustStayInsideTheirStorage() throws IOException {
        byte[] four = new byte[16];
        byte[] overrun = new Pickle().proto().op('}', '(').tensorItem("w", 2, 4, new int[]{2, 2}, new int[]{2, 1})
                .op('u', '.').bytes();
        refuseFile(TorchFiles.checkpoint(overrun, Map.of("0", four)), Reason.BAD_TENSOR, "w");
        byte[] claims = new Pickle().proto().op('}', '(').tensorItem("w", 0, 8, new int[]{8}, new int[]{1})
                .op('u', '.').bytes();
        refuseFile(TorchFiles.checkpoint(claims, Map.of("0", four)), Reason.BAD_TENSOR, "record holds 16");
        refuseFile(TorchFiles.checkpoint(claims, Map.of()), Reason.MISSING_RECORD, "archive/data/0");
        byte[] strided = new Pickle().proto().op('}', '(').tensorItem("w", 0, 4, new int[]{2}, new int[]{2})
                .op('u', '.').bytes();
        refuseFile(TorchFiles.checkpoint(strided, Map.of("0", four)), Reason.NON_CONTIGUOUS, "w");
        byte[] fine = new Pickle().proto().op('}', '(').tensorItem("w", 1, 4, new int[]{3}, new int[]{1})
                .op('u', '.').bytes();
        Path p = dir.resolve("fine.pt");
        Files.write(p, TorchFiles.checkpoint(fine, Map.of("0", new byte[]{0, 0, 0, 0, 0, 0, (byte) 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0, 0})));
        try (TorchCheckpoint ckpt = TorchCheckpoint.open(p, List.of())) {
            assertEquals(1f, ckpt.tensor("w").getFloat(0), "the hand-written pickle is read as torch would");
            assertEquals(2f, ckpt.tensor("w").getFloat(1));
        }
    }

    @Test
    void zipProblemsAreSpecific() throws IOException {
        byte[] good = Files.readAllBytes(TorchCheckpointTest.fixture("causvid.pt"));
        refuseFile(Arrays.copyOf(good, good.length - 30), Reason.BAD_ZIP, "end-of-directory");
        refuseFile(Arrays.copyOf(good, 10), Reason.BAD_ZIP, "end-of-directory");
        refuseFile(TorchFiles.zip(Map.of("archive/other", new byte[3])), Reason.MISSING_RECORD, "data.pkl");
        refuseFile(new byte[]{1, 2, 3}, Reason.BAD_ZIP, "neither a zip");
        ByteArrayOutputStream deflated = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(deflated)) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(new Pickle().proto().op('}', '.').bytes());
        }
        refuseFile(deflated.toByteArray(), Reason.COMPRESSED, "archive/data.pkl");
    }

    @Test
    void legacyFilesGetTheSameAllowlist() throws IOException {
        byte[] good = Files.readAllBytes(TorchCheckpointTest.fixture("legacy.pt"));
        // The three header pickles of a real legacy file, then a hostile body.
        int headerEnd = indexAfterThirdStop(good);
        ByteArrayOutputStream evil = new ByteArrayOutputStream();
        evil.write(good, 0, headerEnd);
        evil.writeBytes(new Pickle().proto().global("os", "system").str("true").op(0x85, 'R', '.').bytes());
        refuseFile(evil.toByteArray(), Reason.FORBIDDEN_GLOBAL, "os.system");
        refuseFile(Arrays.copyOf(good, good.length - 5), Reason.TOO_LARGE, "claims");
    }

    /** Where the fourth pickle starts: just past the third STOP that ends a pickle (magic, version, sys_info). */
    private static int indexAfterThirdStop(byte[] legacy) throws IOException {
        long at = 0;
        java.lang.foreign.MemorySegment s = java.lang.foreign.MemorySegment.ofArray(legacy);
        for (int i = 0; i < 3; i++) {
            at = Unpickler.run(s, at, legacy.length, Path.of("legacy"), "header", pid -> null).end();
        }
        return (int) at;
    }
}
