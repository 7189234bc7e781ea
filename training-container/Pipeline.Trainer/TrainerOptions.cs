using System.ComponentModel.DataAnnotations;
using Pipeline.Training;

namespace Pipeline.Trainer;

public sealed class TrainerOptions
{
    public const string Section = "Trainer";

    /// <summary>Hidden layer widths of the MLP; unset means <see cref="DefaultHiddenLayers"/>.</summary>
    /// <remarks>No default in the list itself: the configuration binder appends to an existing list instead of replacing it.</remarks>
    public List<int>? HiddenLayers { get; set; }

    public static IReadOnlyList<int> DefaultHiddenLayers { get; } = [64, 64];

    public IReadOnlyList<int> EffectiveHiddenLayers => HiddenLayers is { Count: > 0 } layers ? layers : DefaultHiddenLayers;

    [Range(1, 100_000)]
    public int MaxEpochs { get; set; } = 200;

    /// <summary>Search budget: most trials (architectures and optimizer settings) to train; a training request may lower or raise it.</summary>
    [Range(1, 1_000)]
    public int MaxTrials { get; set; } = 12;

    /// <summary>
    /// Search budget: wall-clock seconds of training across attempts; the search stops between batches (boosting rounds)
    /// when it is spent. The default keeps a 100,000-row upload within a minute of being served on 2 CPU cores.
    /// </summary>
    [Range(1.0, 7 * 24 * 3600.0)]
    public double MaxSeconds { get; set; } = 30;

    /// <summary>
    /// Most of <see cref="MaxSeconds"/> one trial may take (a trial cut short keeps its best epoch or round): on large data
    /// a slow family cannot spend the whole budget before the others have had a turn. 1 = no per-trial limit.
    /// </summary>
    [Range(0.05, 1.0)]
    public double MaxTrialShare { get; set; } = 0.25;

    /// <summary>
    /// Distillation: when the chosen model is a tree ensemble of at least <see cref="DistillMinLeaves"/> leaves, an MLP
    /// student is trained on its outputs and offered to the serving gate beside the int8 candidates (served only when it
    /// keeps quality within the gate's tolerance and is faster). False: never.
    /// </summary>
    public bool Distill { get; set; } = true;

    /// <summary>Leaves (over all trees) from which a tree ensemble counts as large enough to be worth a student.</summary>
    [Range(1, int.MaxValue)]
    public int DistillMinLeaves { get; set; } = 2000;

    /// <summary>
    /// After the search, the chosen configuration is trained this many times in all (other seeds) and the average of the
    /// networks is served when it has the lower validation loss; merged into one wider MLP. 1 disables it.
    /// </summary>
    [Range(1, 10)]
    public int EnsembleSize { get; set; } = 3;

    /// <summary>
    /// After the search, train the chosen model again on train + validation (same epochs and learning-rate schedule, from the
    /// same initialization) and serve that: model selection on validation, then all the data for the final fit.
    /// </summary>
    public bool RefitOnValidation { get; set; } = true;

    /// <summary><c>Auto</c> uses CUDA when available; <c>Cpu</c> or <c>Cuda</c> force one (Cuda fails the job when no GPU is visible).</summary>
    public DevicePreference Device { get; set; } = DevicePreference.Auto;

    /// <summary>On CUDA, batch sizes of the search are multiplied by this (a GPU is underused by CPU-sized batches).</summary>
    [Range(1, 64)]
    public int CudaBatchSizeMultiplier { get; set; } = 4;

    /// <summary>Price of one GPU-second (e.g. serverless T4/A100 per-second rate), for the cost estimate in the manifest.</summary>
    [Range(0.0, 100.0)]
    public double GpuPricePerSecond { get; set; }

    /// <summary>Champion/challenger: the new version is promoted when its test metric ≥ the current model's − this (absolute, e.g. 0.01 = 1 point).</summary>
    [Range(0.0, 1.0)]
    public double PromotionTolerance { get; set; } = 0.005;

    /// <summary>How often the run status document is rewritten while training.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan StatusInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Least time between two checkpoints taken while the search runs (after a trial has finished), so a run that is
    /// killed without warning (SIGKILL, a lost node) loses at most the running trial and this much finished work.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Epochs without a better validation loss before training stops.</summary>
    [Range(1, 10_000)]
    public int Patience { get; set; } = 20;

    [Range(1, 65_536)]
    public int BatchSize { get; set; } = 64;

    [Range(1e-6, 1.0)]
    public double LearningRate { get; set; } = 3e-3;

    [Range(0.0, 1.0)]
    public double WeightDecay { get; set; } = 1e-4;

    public int Seed { get; set; } = 42;

    /// <summary>CPU threads for TorchSharp; 1 measured fastest for small MLPs on a shared 2-core machine.</summary>
    [Range(1, 256)]
    public int Threads { get; set; } = 1;

    /// <summary>Largest tolerated difference between the TorchSharp model and its ONNX export on the test split.</summary>
    [Range(0.0, 1.0)]
    public double MaxOnnxDifference { get; set; } = 1e-4;
}

public sealed class WorkerOptions
{
    public const string Section = "Worker";

    public string QueueName { get; set; } = Storage.StorageNames.TrainRequestsQueue;

    /// <summary>How long a received message stays invisible; the heartbeat renews it well before it expires.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "7.00:00:00")]
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromMinutes(2);

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts (dequeues) before a message moves to the poison queue.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>How long a failed message stays invisible before the next attempt.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Process at most one message, then exit (a Container Apps job replica). Otherwise poll until stopped (local).</summary>
    public bool Once { get; set; }
}
