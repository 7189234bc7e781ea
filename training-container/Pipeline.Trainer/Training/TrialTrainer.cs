using Pipeline.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Trainer.Training;

/// <summary>
/// Everything needed to continue a trial exactly where it stopped: position (epoch, batch), early-stopping and learning-rate
/// schedule state, curves, current and best weights, and the AdamW moments. Serialized into the run's checkpoint.
/// </summary>
public sealed class TrialState
{
    public int Index { get; set; }

    public List<int> HiddenLayers { get; set; } = [];

    public double LearningRate { get; set; }

    public double WeightDecay { get; set; }

    public double Dropout { get; set; }

    public int BatchSize { get; set; }

    /// <summary>Completed epochs.</summary>
    public int Epoch { get; set; }

    /// <summary>Next batch of epoch <see cref="Epoch"/> + 1 (0 at an epoch boundary).</summary>
    public int Batch { get; set; }

    public double RunningLoss { get; set; }

    public double CurrentLearningRate { get; set; }

    public int BestEpoch { get; set; }

    public double BestLoss { get; set; } = double.PositiveInfinity;

    public double BestMetric { get; set; }

    /// <summary>Epochs since the best loss or the last learning-rate cut, whichever is later.</summary>
    public int Plateau { get; set; }

    public double Seconds { get; set; }

    public string? StopReason { get; set; }

    public List<EpochRecord> History { get; set; } = [];

    /// <summary>Current weights (weight, bias per layer), filled when checkpointing.</summary>
    public List<float[]>? Weights { get; set; }

    public List<float[]> BestWeights { get; set; } = [];

    /// <summary>TorchSharp's serialized AdamW state, filled when checkpointing.</summary>
    public byte[]? OptimizerState { get; set; }

    public TrialParameters Parameters => new(HiddenLayers, LearningRate, WeightDecay, Dropout, BatchSize);
}

/// <summary>
/// Trains one trial: AdamW, mini-batches in a seeded per-epoch order, validation loss after every epoch, learning rate
/// halved when it plateaus, early stopping with the best weights kept. Stops at batch boundaries when cancelled, so
/// <see cref="Capture"/> can checkpoint it and a new <see cref="TrialTrainer"/> can resume it bit for bit (CPU).
/// </summary>
public sealed class TrialTrainer : IDisposable
{
    private const double MinimumImprovement = 1e-6;
    private readonly TrainingData _data;
    private readonly TrialState _state;
    private readonly int _seed;
    private readonly int _maxEpochs;
    private readonly int _patience;
    private readonly Mlp _model;
    private readonly OptimizerHelper _optimizer;

    public TrialTrainer(TrainingData data, TrialState state, int seed, int maxEpochs, int patience)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(state);
        _data = data;
        _state = state;
        _seed = seed;
        _maxEpochs = maxEpochs;
        _patience = patience;
        random.manual_seed(Mix(seed, state.Index, 0, 0));
        _model = new Mlp(data.FeatureCount, state.HiddenLayers, data.Outputs, state.Dropout);
        _model.to(data.Device);
        _optimizer = optim.AdamW(_model.parameters(), state.LearningRate, weight_decay: state.WeightDecay);
        if (state.CurrentLearningRate <= 0)
        {
            state.CurrentLearningRate = state.LearningRate;
        }

        if (state.Weights is { } weights)
        {
            Restore(_model, weights);
        }

        if (state.OptimizerState is { } optimizerState)
        {
            using var reader = new BinaryReader(new MemoryStream(optimizerState));
            _optimizer.load_state_dict(reader);
        }

        if (state.BestWeights.Count == 0)
        {
            state.BestWeights = Snapshot(_model);
        }

        SetLearningRate(state.CurrentLearningRate);
        state.Weights = null;
        state.OptimizerState = null;
    }

    public TrialState State => _state;

    public bool Finished => _state.StopReason is not null;

    /// <summary>Trains until early stopping, the epoch limit or <paramref name="outOfTime"/>; throws when cancelled, leaving a consistent state.</summary>
    public void Run(Func<bool> outOfTime, Action<TrialState>? onEpoch, CancellationToken cancellationToken)
    {
        var rows = _data.TrainRows;
        var batchSize = Math.Min(_state.BatchSize, rows);
        var batches = (rows + batchSize - 1) / batchSize;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            while (!Finished)
            {
                if (_state.Epoch >= _maxEpochs)
                {
                    _state.StopReason = $"reached {_maxEpochs} epochs";
                    break;
                }

                if (_state.Epoch - _state.BestEpoch >= _patience)
                {
                    _state.StopReason = $"early stopping: no better validation loss for {_patience} epochs";
                    break;
                }

                var epoch = _state.Epoch + 1;
                var order = Enumerable.Range(0, rows).Select(i => (long)i).ToArray();
                new Random(Mix(_seed, _state.Index, epoch, 0)).Shuffle(order);
                _model.train();
                for (var b = _state.Batch; b < batches; b++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (outOfTime())
                    {
                        _state.StopReason = "time budget spent";
                        return;
                    }

                    if (_state.Dropout > 0)
                    {
                        random.manual_seed(Mix(_seed, _state.Index, epoch, b + 1));
                    }

                    using var scope = NewDisposeScope();
                    var start = b * batchSize;
                    var index = tensor(order.AsSpan(start, Math.Min(batchSize, rows - start)).ToArray()).to(_data.Device);
                    var loss = _data.Loss(_model.forward(_data.XTrain.index_select(0, index)), _data.YTrain.index_select(0, index));
                    _optimizer.zero_grad();
                    loss.backward();
                    _optimizer.step();
                    _state.RunningLoss += loss.item<float>();
                    _state.Batch = b + 1;
                }

                EndEpoch(epoch, batches);
                onEpoch?.Invoke(_state);
            }
        }
        finally
        {
            _state.Seconds += System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
    }

    private void EndEpoch(int epoch, int batches)
    {
        double validationLoss, metric;
        using (NewDisposeScope())
        using (no_grad())
        {
            _model.eval();
            var output = _model.forward(_data.XValid);
            validationLoss = _data.Loss(output, _data.YValid).item<float>();
            metric = _data.Quality(output, _data.ValidationTarget);
        }

        _state.History.Add(new EpochRecord(epoch, _state.RunningLoss / batches, validationLoss, metric, _state.CurrentLearningRate));
        _state.Epoch = epoch;
        _state.Batch = 0;
        _state.RunningLoss = 0;
        if (!double.IsFinite(validationLoss))
        {
            _state.StopReason = "validation loss diverged (NaN or infinite)";
            return;
        }

        if (validationLoss < _state.BestLoss - MinimumImprovement)
        {
            _state.BestLoss = validationLoss;
            _state.BestMetric = metric;
            _state.BestEpoch = epoch;
            _state.BestWeights = Snapshot(_model);
            _state.Plateau = 0;
        }
        else if (++_state.Plateau >= Math.Max(2, _patience / 3) && _state.CurrentLearningRate > _state.LearningRate / 64)
        {
            // Reduce on plateau: halve the learning rate, then give it a fresh plateau window.
            _state.CurrentLearningRate /= 2;
            SetLearningRate(_state.CurrentLearningRate);
            _state.Plateau = 0;
        }
    }

    /// <summary>The state with current weights and optimizer moments, ready to serialize.</summary>
    public TrialState Capture()
    {
        _state.Weights = Snapshot(_model);
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            _optimizer.save_state_dict(writer);
        }

        _state.OptimizerState = buffer.ToArray();
        return _state;
    }

    /// <summary>The trial's best weights as an exportable model (and the torch module, for the parity check).</summary>
    public static TrainedModel Build(TrainingData data, TrialState state)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(state);
        var model = new Mlp(data.FeatureCount, state.HiddenLayers, data.Outputs);
        model.to(data.Device);
        Restore(model, state.BestWeights);
        model.eval();
        var layers = model.Layers.Select((l, i) => new DenseLayer(
            (int)l.weight!.shape[1], (int)l.weight.shape[0], state.BestWeights[2 * i], state.BestWeights[(2 * i) + 1])).ToList();
        var definition = new MlpDefinition(
            data.Classification ? MlpTask.Classification : MlpTask.Regression,
            data.Manifest.Features.Select(f => f.Name).ToList(), data.Mean, data.Std, layers,
            data.Classification ? data.Manifest.Labels : null, data.TargetMean, data.TargetStd);
        return new TrainedModel(definition, model, data.Device, state.Epoch, state.BestEpoch, state.BestLoss, state.Seconds);
    }

    /// <summary>A deterministic seed for (run seed, trial, epoch, batch); <see cref="HashCode"/> is randomized per process, so not that.</summary>
    private static int Mix(int seed, int trial, int epoch, int batch) =>
        unchecked((((((seed * 1_000_003) + trial) * 1_000_033) + epoch) * 1_000_037) + batch);

    private void SetLearningRate(double rate)
    {
        foreach (var group in _optimizer.ParamGroups)
        {
            group.LearningRate = rate;
        }
    }

    /// <summary>Weights and biases of every layer, as plain arrays (weight row-major [out, in]).</summary>
    internal static List<float[]> Snapshot(Mlp model) =>
        model.Layers.SelectMany(l => new[] { l.weight!.cpu().data<float>().ToArray(), l.bias!.cpu().data<float>().ToArray() }).ToList();

    internal static void Restore(Mlp model, List<float[]> weights)
    {
        using var noGrad = no_grad();
        for (var i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            using var w = tensor(weights[2 * i], layer.weight!.shape).to(layer.weight.device);
            using var b = tensor(weights[(2 * i) + 1], layer.bias!.shape).to(layer.bias.device);
            layer.weight.copy_(w);
            layer.bias.copy_(b);
        }
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _model.Dispose();
    }
}
