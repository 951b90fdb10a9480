package dev.diagonal.tensor;

/** Where a tensor's bytes live. A CUDA tensor's segment carries the device address and size only. */
public enum Device {
    CPU, CUDA
}
