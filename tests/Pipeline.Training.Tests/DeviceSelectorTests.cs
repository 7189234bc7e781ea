using Pipeline.Trainer;
using Pipeline.Training;
using TorchSharp;

namespace Pipeline.Tests.Trainer;

public class DeviceSelectorTests
{
    [Fact]
    public void Select_AutoWithCuda_UsesCudaWithScaledBatchesAndPinnedMemory()
    {
        var choice = DeviceSelector.Select(DevicePreference.Auto, cudaAvailable: true, cudaDevices: 2, cudaBatchSizeMultiplier: 4);

        Assert.Equal(DeviceType.CUDA, choice.Type);
        Assert.True(choice.Cuda);
        Assert.Equal(4, choice.BatchSizeMultiplier);
        Assert.True(choice.PinMemory);
        Assert.Contains("2 device(s)", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_AutoWithoutCuda_UsesTheCpuUnscaled()
    {
        var choice = DeviceSelector.Select(DevicePreference.Auto, cudaAvailable: false, cudaDevices: 0, cudaBatchSizeMultiplier: 4);

        Assert.Equal(DeviceType.CPU, choice.Type);
        Assert.Equal(1, choice.BatchSizeMultiplier);
        Assert.False(choice.PinMemory);
    }

    [Fact]
    public void Select_CpuConfigured_IgnoresAVisibleGpu()
    {
        Assert.Equal(DeviceType.CPU, DeviceSelector.Select(DevicePreference.Cpu, cudaAvailable: true, cudaDevices: 1, cudaBatchSizeMultiplier: 4).Type);
    }

    [Fact]
    public void Select_CudaConfiguredWithoutGpu_FailsTheJobWithAClearReason()
    {
        var error = Assert.Throws<TrainingFailedException>(() => DeviceSelector.Select(DevicePreference.Cuda, cudaAvailable: false, cudaDevices: 0, cudaBatchSizeMultiplier: 4));

        Assert.Contains("no CUDA device", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_OnThisMachine_IsTheCpuBackend()
    {
        // The CPU libtorch package is what tests build against; the CUDA image selects TorchBackend=cuda.
        Assert.Equal(DeviceType.CPU, DeviceSelector.Select(DevicePreference.Auto, 4).Type);
    }
}
