package dev.diagonal.serve;

/**
 * How a stream ended, kept by the server for {@code /status} and for tests.
 *
 * @param end            done, stopped (by the client), disconnected, shutdown, or failed: ...
 * @param chunksAtStop   chunks finished when the stop or disconnect was noticed (-1: it ran to the end)
 * @param chunksDone     chunks finished in all; at most one more than chunksAtStop, the one in flight
 * @param firstFrameMs   from the WebSocket opening to the first frame sent
 * @param framesPerSecond frames sent per second after the first chunk's (the rate a viewer keeps)
 * @param released       every off-heap buffer of the stream was freed (its arenas closed)
 */
public record StreamSummary(long id, String prompt, String end, int chunksAtStop, int chunksDone, long frames,
                            double firstFrameMs, double framesPerSecond, int switches, boolean released) {

    String json() {
        return new JsonOut().put("id", id).put("prompt", prompt).put("end", end).put("chunksAtStop", chunksAtStop)
                .put("chunksDone", chunksDone).put("frames", frames).put("firstFrameMs", firstFrameMs)
                .put("fps", framesPerSecond).put("switches", switches).put("released", released).toString();
    }
}
