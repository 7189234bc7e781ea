using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>The device a job trains on and why, with the batch-size factor and whether host tensors are pinned.</summary>
public sealed record DeviceChoice(DeviceType Type, string Reason, int BatchSizeMultiplier, bool PinMemory)
{
    public bool Cuda => Type == DeviceType.CUDA;

    public Device Device => Cuda ? CUDA : CPU;
}

/// <summary>
/// Chooses the training device. CUDA when configured <c>Auto</c> and a GPU is visible; then batches are scaled by the
/// configured factor and host tensors pinned (one copy each, at job start). Pure, so it is tested without a GPU.
/// </summary>
public static class DeviceSelector
{
    public static DeviceChoice Select(DevicePreference preference, bool cudaAvailable, int cudaDevices, int cudaBatchSizeMultiplier) => preference switch
    {
        DevicePreference.Cpu => new DeviceChoice(DeviceType.CPU, "CPU by configuration (Trainer:Device = Cpu)", 1, false),
        DevicePreference.Cuda when !cudaAvailable => throw new TrainingFailedException(
            "Trainer:Device is Cuda but no CUDA device is visible (is this the CUDA image on a GPU workload profile?)."),
        _ when cudaAvailable => new DeviceChoice(DeviceType.CUDA, $"CUDA ({cudaDevices} device(s) visible; using device 0)", cudaBatchSizeMultiplier, true),
        _ => new DeviceChoice(DeviceType.CPU, "CPU (no CUDA device visible)", 1, false),
    };

    /// <summary>Asks TorchSharp; the CPU libtorch package reports no CUDA.</summary>
    public static DeviceChoice Select(DevicePreference preference, int cudaBatchSizeMultiplier)
    {
        var available = cuda.is_available();
        return Select(preference, available, available ? cuda.device_count() : 0, cudaBatchSizeMultiplier);
    }
}

/// <summary>Where training runs: <c>Auto</c> takes CUDA when a GPU is there; <c>Cuda</c> fails when none is.</summary>
public enum DevicePreference
{
    Auto,
    Cpu,
    Cuda,
}
