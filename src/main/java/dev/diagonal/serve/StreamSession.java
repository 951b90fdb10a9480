package dev.diagonal.serve;

import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.vae.DecodeStream;
import dev.diagonal.stream.Chunk;
import dev.diagonal.stream.ChunkStream;
import dev.diagonal.stream.SeededNoise;
import dev.diagonal.stream.StepObserver;
import dev.diagonal.stream.SwitchRule;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.video.Frames;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One client's stream, run on its own thread: chunk by chunk, denoise, decode, send every frame the moment it
 * is decoded, then the chunk's stats. A prompt switch asked for meanwhile applies to the next chunk; a stop
 * (the client's, a disconnect, the server shutting down) is seen before the next chunk begins, so at most the
 * chunk in flight is finished after it. Every off-heap buffer the stream uses lives in arenas this thread
 * opens and closes.
 *
 * <p>Streams longer than the RoPE table (1024 latent frames, 341 chunks) run as consecutive segments, each a
 * fresh cache and decoder: the video cuts there, the stream and its prompt go on.
 */
public final class StreamSession implements Runnable {
    /** Waits shorter than this are not worth a sleep. */
    private static final long PACE_SLACK_NANOS = 5_000_000L;

    private final long id;
    private final ServeModel model;
    private final StreamRequest request;
    private final StreamChannel channel;
    private final long openedNanos;
    private final CountDownLatch stopSignal = new CountDownLatch(1);
    private final AtomicReference<Switch> pending = new AtomicReference<>();
    private volatile String stopReason;
    private volatile int chunksDone;
    private volatile int chunksAtStop = -1;
    private volatile StreamSummary summary;

    /** A prompt switch waiting for the next chunk; a newer one replaces it (no queue to grow). */
    private record Switch(String prompt, SwitchRule rule) {
    }

    public StreamSession(long id, ServeModel model, StreamRequest request, StreamChannel channel) {
        this.id = id;
        this.model = model;
        this.request = request;
        this.channel = channel;
        this.openedNanos = System.nanoTime();
    }

    public long id() {
        return id;
    }

    /** Asks the next chunk to run under {@code prompt} (already checked), with {@code rule} for the cache. */
    public void requestSwitch(String prompt, SwitchRule rule) {
        pending.set(new Switch(prompt, rule));
    }

    /** Stops the stream before its next chunk; the first reason given is the one reported. Idempotent. */
    public void stop(String reason) {
        synchronized (this) {
            if (stopReason == null) {
                stopReason = reason;
                chunksAtStop = chunksDone;
            }
        }
        stopSignal.countDown();
    }

    /** How it ended, once {@link #run} has returned; null before. */
    public StreamSummary summary() {
        return summary;
    }

    private boolean stopped() {
        return stopReason != null;
    }

    @Override
    public void run() {
        Progress p = new Progress();
        String end = "done";
        Arena textArena = Arena.ofShared();
        boolean released = false;
        try {
            ReentrantLock turn = model.turn();
            TextContext text;
            turn.lock();
            try {
                text = model.encode(request.prompt(), textArena);
            } finally {
                turn.unlock();
            }
            channel.sendText(new JsonOut().put("type", "started").put("id", id).put("width", model.width())
                    .put("height", model.height()).put("fps", model.fps()).put("chunks", request.chunks())
                    .put("prompt", request.prompt()).put("seed", request.seed()).put("cache", request.cache().toString())
                    .put("realtime", request.realtime()).toString());
            String prompt = request.prompt();
            for (int segment = 0; chunksDone < request.chunks() && !stopped(); segment++) {
                int chunks = Math.min(request.chunks() - chunksDone, model.maxChunksPerSegment());
                long seed = request.seed() + segment * 0x9E3779B97F4A7C15L;
                try (Arena decodeArena = Arena.ofShared();
                     ChunkStream stream = new ChunkStream(model.dit(), text, model.settings(chunks), new SeededNoise(seed),
                             StepObserver.NONE)) {
                    DecodeStream decode = model.decoder().newStream(decodeArena);
                    while (stream.hasNext() && !stopped()) {
                        Switch sw = pending.getAndSet(null);
                        if (sw != null) {
                            Arena next = Arena.ofShared();
                            long t0 = System.nanoTime();
                            turn.lock();
                            try {
                                text = model.encode(sw.prompt(), next);
                            } catch (RuntimeException | Error e) {
                                next.close();
                                throw e;
                            } finally {
                                turn.unlock();
                            }
                            stream.switchText(text, sw.rule());
                            textArena.close(); // the stream no longer reads the old prompt's context
                            textArena = next;
                            prompt = sw.prompt();
                            p.switches++;
                            channel.sendText(new JsonOut().put("type", "switched").put("chunk", chunksDone)
                                    .put("frame", p.frames).put("prompt", prompt).put("cache", sw.rule().toString())
                                    .put("encodeMs", (System.nanoTime() - t0) / 1e6).toString());
                        }
                        if (request.realtime() && waitForPlayback(p)) {
                            break;
                        }
                        List<byte[]> frames = new ArrayList<>();
                        Chunk chunk;
                        long decodeNanos;
                        turn.lock();
                        try {
                            chunk = stream.next();
                            long t0 = System.nanoTime();
                            try (Arena frameArena = Arena.ofShared()) {
                                Tensor video = decode.decode(chunk.latents(), frameArena);
                                for (long t = 0; t < video.dim(1); t++) {
                                    frames.add(Frames.toRgb(video, t, new byte[model.width() * model.height() * 3]));
                                }
                            }
                            decodeNanos = System.nanoTime() - t0;
                        } finally {
                            turn.unlock();
                        }
                        for (byte[] rgb : frames) {
                            channel.sendBinary(FrameMessage.encode(p.frames, chunksDone, model.width(), model.height(), rgb));
                            p.frameSent(openedNanos);
                        }
                        p.nfe += chunk.evaluations();
                        chunksDone++;
                        p.chunkDone(frames.size());
                        channel.sendText(new JsonOut().put("type", "chunk").put("chunk", chunksDone - 1)
                                .put("chunks", request.chunks()).put("frames", p.frames).put("chunkFrames", frames.size())
                                .put("ditMs", chunk.nanos() / 1e6).put("decodeMs", decodeNanos / 1e6)
                                .put("nfe", chunk.evaluations()).put("nfeTotal", p.nfe).put("fps", p.framesPerSecond())
                                .put("firstFrameMs", p.firstFrameMs()).put("prompt", prompt).toString());
                    }
                }
            }
            end = stopReason == null ? "done" : stopReason;
        } catch (IOException e) {
            end = stopReason != null ? stopReason : "disconnected: " + e.getMessage();
            stop(end);
        } catch (RuntimeException | Error e) {
            end = "failed: " + e;
            stop(end);
        } finally {
            textArena.close();
            released = true;
        }
        finish(end, p);
        summary = new StreamSummary(id, request.prompt(), end, chunksAtStop, chunksDone, p.frames, p.firstFrameMs(),
                p.framesPerSecond(), p.switches, released);
    }

    // Says goodbye where the client can still hear it: a last message and a close code that tells why.
    private void finish(String end, Progress p) {
        boolean clean = end.equals("done") || end.equals("stopped");
        try {
            channel.sendText(new JsonOut().put("type", "done").put("end", end).put("chunks", chunksDone)
                    .put("frames", p.frames).put("fps", p.framesPerSecond()).put("firstFrameMs", p.firstFrameMs())
                    .put("nfeTotal", p.nfe).toString());
        } catch (IOException e) {
            // the client is gone; nothing to tell it
        }
        channel.close(clean ? 1000 : end.equals("shutdown") ? 1001 : end.startsWith("failed") ? 1011 : 1000, end);
    }

    /**
     * Holds a real-time stream at most one chunk ahead of playback (frames sent over fps against the wall
     * clock since the first frame), so a prompt switch shows within about a chunk. True when stopped meanwhile.
     */
    private boolean waitForPlayback(Progress p) {
        if (p.firstFrameNanos < 0) {
            return false;
        }
        double chunkSeconds = (double) p.lastChunkFrames / model.fps();
        long aheadNanos = (long) ((p.frames / (double) model.fps() - chunkSeconds) * 1e9)
                - (System.nanoTime() - p.firstFrameNanos);
        if (aheadNanos <= PACE_SLACK_NANOS) {
            return false;
        }
        try {
            return stopSignal.await(aheadNanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stop("shutdown");
            return true;
        }
    }

    /** Counters of one stream, touched only by its thread. */
    private static final class Progress {
        long frames;
        long nfe;
        int switches;
        long firstFrameNanos = -1;
        long firstFrameLatency = -1;
        long firstChunkFrames = -1;
        long firstChunkEndNanos = -1;
        long lastFrameNanos;
        int lastChunkFrames;

        void frameSent(long openedNanos) {
            long now = System.nanoTime();
            if (firstFrameNanos < 0) {
                firstFrameNanos = now;
                firstFrameLatency = now - openedNanos;
            }
            lastFrameNanos = now;
            frames++;
        }

        void chunkDone(int chunkFrames) {
            lastChunkFrames = chunkFrames;
            if (firstChunkFrames < 0) {
                firstChunkFrames = frames;
                firstChunkEndNanos = lastFrameNanos;
            }
        }

        double firstFrameMs() {
            return firstFrameLatency < 0 ? Double.NaN : firstFrameLatency / 1e6;
        }

        /** After the first chunk: it pays the longest step list, the rate after it is the one a viewer keeps. */
        double framesPerSecond() {
            long later = frames - firstChunkFrames;
            double seconds = (lastFrameNanos - firstChunkEndNanos) / 1e9;
            return firstChunkFrames < 0 || later <= 0 || seconds <= 0 ? Double.NaN : later / seconds;
        }
    }
}
