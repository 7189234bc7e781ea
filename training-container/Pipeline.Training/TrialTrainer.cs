using Pipeline.Training.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// Everything needed to continue a trial exactly where it stopped: position (epoch, batch), early-stopping and learning-rate
/// schedule state, curves, current and best weights, and the AdamW moments. Serialized into the run's checkpoint.
/// </summary>
public sealed class TrialState
{
    public int Index { get; set; }

    public required TrialParameters Parameters { get; init; }

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

    /// <summary>A gradient-boosted-trees trial's model (LightGBM text format, cut at its best round); null for networks.</summary>
    public string? TreeModel { get; set; }

    /// <summary>AdamW first and second moments (flat, parameter order), filled when checkpointing.</summary>
    public List<float[]>? OptimizerMoments { get; set; }

    /// <summary>AdamW steps taken (for the bias corrections).</summary>
    public long OptimizerStep { get; set; }
}

/// <summary>
/// Trains one trial: AdamW (decoupled weight decay, as <c>torch.optim.AdamW</c>), mini-batches in a seeded per-epoch order, validation loss after every epoch, learning rate
/// halved when it plateaus, early stopping with the best weights kept. Stops at batch boundaries when cancelled, so
/// <see cref="Capture"/> can checkpoint it and a new <see cref="TrialTrainer"/> can resume it bit for bit (CPU).
/// All parameters live in one flat tensor (each layer's weight and bias are views into it) and so do their gradients, so
/// an optimizer step is a handful of tensor operations on two flat buffers instead of a dozen per parameter: small MLPs
/// spend a large share of each batch in per-operation overhead.
/// </summary>
public sealed class TrialTrainer : IDisposable
{
    private const double MinimumImprovement = 1e-6;
    private readonly TrainingData _data;
    private readonly TrialState _state;
    private readonly int _seed;
    private readonly int _maxEpochs;
    private readonly int _patience;
    private const double Beta1 = 0.9;
    private const double Beta2 = 0.999;
    private const double Epsilon = 1e-8;
    private readonly Mlp _model;
    private readonly Tensor _parameters;
    private readonly Tensor _gradients;
    private readonly Tensor _moment1;
    private readonly Tensor _moment2;
    private readonly IReadOnlyList<double>? _schedule;
    private readonly Tensor _xTrain;
    private readonly Tensor _xValid;

    /// <param name="data">The splits, on the training device.</param>
    /// <param name="state">The trial to train or continue.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="maxEpochs">Epoch limit.</param>
    /// <param name="patience">Epochs without a better validation loss before stopping.</param>
    /// <param name="schedule">
    /// Refit mode: train exactly these epochs at these learning rates (a finished trial's schedule) without early stopping,
    /// and keep the last weights; the validation split is then part of the training data, so it cannot choose an epoch.
    /// </param>
    public TrialTrainer(TrainingData data, TrialState state, int seed, int maxEpochs, int patience, IReadOnlyList<double>? schedule = null)
    {
        _schedule = schedule;
        if (schedule is not null)
        {
            maxEpochs = schedule.Count;
            patience = int.MaxValue;
        }

        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(state);
        _data = data;
        _state = state;
        _seed = seed;
        _maxEpochs = maxEpochs;
        _patience = patience;
        random.manual_seed(Mix(seed, state.Index, 0, 0));
        var p = state.Parameters;
        _xTrain = p.Encoded ? data.XTrainEncoded ?? throw new InvalidOperationException("No encoding for an encoded trial.") : data.XTrain;
        _xValid = p.Encoded ? data.XValidEncoded! : data.XValid;
        _model = new Mlp(data.InputWidth(p.Encoded), p.HiddenLayers, data.Outputs, p.Dropout);
        _model.to(data.Device);
        if (state.CurrentLearningRate <= 0)
        {
            state.CurrentLearningRate = p.LearningRate;
        }

        if (state.Weights is { } weights)
        {
            Restore(_model, weights);
        }

        // One flat buffer for the parameters and one for their gradients; every parameter (and its .grad) becomes a view.
        var parameters = _model.parameters().ToList();
        var total = parameters.Sum(p => p.numel());
        _parameters = zeros(total, device: data.Device);
        _gradients = zeros(total, device: data.Device);
        using (no_grad())
        {
            long offset = 0;
            foreach (var parameter in parameters)
            {
                var count = parameter.numel();
                using var slot = _parameters.narrow(0, offset, count);
                slot.copy_(parameter.detach().reshape(count));
                parameter.set_(slot.view(parameter.shape));
                parameter.grad = _gradients.narrow(0, offset, count).view(parameter.shape);
                offset += count;
            }
        }

        _moment1 = state.OptimizerMoments is { } moments ? tensor(moments[0]).to(data.Device) : zeros(total, device: data.Device);
        _moment2 = state.OptimizerMoments is { } m2 ? tensor(m2[1]).to(data.Device) : zeros(total, device: data.Device);
        if (state.BestWeights.Count == 0)
        {
            state.BestWeights = Snapshot(_model);
        }

        state.Weights = null;
        state.OptimizerMoments = null;
    }

    public TrialState State => _state;

    public bool Finished => _state.StopReason is not null;

    /// <summary>Trains until early stopping, the epoch limit or <paramref name="outOfTime"/>; throws when cancelled, leaving a consistent state.</summary>
    public void Run(Func<bool> outOfTime, Action<TrialState>? onEpoch, CancellationToken cancellationToken)
    {
        var rows = _data.TrainRows;
        var batchSize = Math.Min(_state.Parameters.BatchSize, rows);
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

                if (_schedule is null && _state.Epoch - _state.BestEpoch >= _patience)
                {
                    _state.StopReason = $"early stopping: no better validation loss for {_patience} epochs";
                    break;
                }

                var epoch = _state.Epoch + 1;
                if (_schedule is not null)
                {
                    _state.CurrentLearningRate = _schedule[epoch - 1];
                }

                var order = Enumerable.Range(0, rows).Select(i => (long)i).ToArray();
                new Random(Mix(_seed, _state.Index, epoch, 0)).Shuffle(order);
                using var permutation = tensor(order).to(_data.Device);
                _model.train();
                for (var b = _state.Batch; b < batches; b++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (outOfTime())
                    {
                        _state.StopReason = "time budget spent";
                        return;
                    }

                    if (_state.Parameters.Dropout > 0)
                    {
                        random.manual_seed(Mix(_seed, _state.Index, epoch, b + 1));
                    }

                    using var scope = NewDisposeScope();
                    var start = b * batchSize;
                    var index = permutation.narrow(0, start, Math.Min(batchSize, rows - start));
                    var loss = _data.Loss(_model.forward(_xTrain.index_select(0, index)), _data.YTrain.index_select(0, index));
                    _gradients.zero_();
                    loss.backward();
                    Step();
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

    /// <summary>One AdamW step on the flat buffers, the arithmetic of <c>torch.optim.AdamW</c> (no amsgrad).</summary>
    /// <remarks>
    /// Every scalar operand is an explicit <see cref="Scalar"/> disposed at the end of the step. An implicit conversion
    /// (<c>mul_(0.9)</c>) leaves the native scalar to the finalizer, which can free it while libtorch still reads it
    /// ("Scalar toDouble/toFloat: Expected false to be true" under GC pressure, seen when many tests train at once).
    /// That includes the alpha TorchSharp's one-argument <c>add_(Scalar)</c> converts from 1 itself, so the two-argument
    /// overload is called with an explicit one.
    /// </remarks>
    private void Step()
    {
        using var noGrad = no_grad();
        var step = ++_state.OptimizerStep;
        var rate = _state.CurrentLearningRate;
        if (_state.Parameters.WeightDecay > 0)
        {
            using Scalar decay = 1 - (rate * _state.Parameters.WeightDecay);
            _parameters.mul_(decay);
        }

        using Scalar beta1 = Beta1;
        using Scalar oneMinusBeta1 = 1 - Beta1;
        using Scalar beta2 = Beta2;
        using Scalar oneMinusBeta2 = 1 - Beta2;
        using Scalar correction2 = Math.Sqrt(1 - Math.Pow(Beta2, step));
        using Scalar epsilon = Epsilon;
        using Scalar one = 1;
        using Scalar stepSize = -rate / (1 - Math.Pow(Beta1, step));
        _moment1.mul_(beta1).add_(_gradients, alpha: oneMinusBeta1);
        _moment2.mul_(beta2).addcmul_(_gradients, _gradients, value: oneMinusBeta2);
        using var denominator = _moment2.sqrt().div_(correction2).add_(epsilon, one);
        _parameters.addcdiv_(_moment1, denominator, stepSize);
    }

    private void EndEpoch(int epoch, int batches)
    {
        double validationLoss, metric;
        using (NewDisposeScope())
        using (no_grad())
        {
            _model.eval();
            var output = _model.forward(_xValid);
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

        if (_schedule is not null)
        {
            if (epoch == _schedule.Count)
            {
                _state.BestLoss = validationLoss;
                _state.BestMetric = metric;
                _state.BestEpoch = epoch;
                _state.BestWeights = Snapshot(_model);
            }

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
        else if (++_state.Plateau >= Math.Max(2, _patience / 3) && _state.CurrentLearningRate > _state.Parameters.LearningRate / 64)
        {
            // Reduce on plateau: halve the learning rate, then give it a fresh plateau window.
            _state.CurrentLearningRate /= 2;
            _state.Plateau = 0;
        }
    }

    /// <summary>The state with current weights and optimizer moments, ready to serialize.</summary>
    public TrialState Capture()
    {
        _state.Weights = Snapshot(_model);
        _state.OptimizerMoments = [_moment1.cpu().data<float>().ToArray(), _moment2.cpu().data<float>().ToArray()];
        return _state;
    }

    /// <summary>
    /// The trial's best weights as an exportable model (and the torch module, for the parity check). An encoded trial is
    /// built in its exported form: the encoding layer first, then the network with its first layer applied to [W, −W].
    /// </summary>
    public static TrainedModel Build(TrainingData data, TrialState state)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(state);
        var hidden = state.Parameters.HiddenLayers;
        var weights = state.BestWeights;
        if (state.Parameters.Encoded)
        {
            var encoding = data.Encoding ?? throw new InvalidOperationException("No encoding for an encoded trial.");
            var layer = encoding.Layer();
            var firstOutputs = hidden.Count > 0 ? hidden[0] : data.Outputs;
            hidden = [layer.OutputSize, .. hidden];
            weights = [layer.Weight, layer.Bias, encoding.ExpandFirstWeight(state.BestWeights[0], firstOutputs), .. state.BestWeights.Skip(1)];
        }

        var model = new Mlp(data.FeatureCount, hidden, data.Outputs);
        model.to(data.Device);
        Restore(model, weights);
        model.eval();
        var layers = model.Layers.Select((l, i) => new DenseLayer(
            (int)l.weight!.shape[1], (int)l.weight.shape[0], weights[2 * i], weights[(2 * i) + 1])).ToList();
        var definition = new MlpDefinition(
            data.Classification ? MlpTask.Classification : MlpTask.Regression,
            data.Manifest.Features.Select(f => f.Name).ToList(), data.Mean, data.Std, layers,
            data.Classification ? data.Manifest.Labels : null, data.TargetMean, data.TargetStd);
        return new TrainedModel(definition, model, data.Device, state.Epoch, state.BestEpoch, state.BestLoss, state.Seconds);
    }

    /// <summary>Validation loss and metric of a model given by <paramref name="state"/>'s best weights.</summary>
    public static (double Loss, double Metric) Evaluate(TrainingData data, TrialState state)
    {
        using var model = Build(data, state);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var output = model.Module.forward(data.XValid);
        return (data.Loss(output, data.YValid).item<float>(), data.Quality(output, data.ValidationTarget));
    }

    /// <summary>A deterministic seed for (run seed, trial, epoch, batch); <see cref="HashCode"/> is randomized per process, so not that.</summary>
    private static int Mix(int seed, int trial, int epoch, int batch) =>
        unchecked((((((seed * 1_000_003) + trial) * 1_000_033) + epoch) * 1_000_037) + batch);

    /// <summary>Weights and biases of every layer, as plain arrays (weight row-major [out, in]).</summary>
    public static List<float[]> Snapshot(Mlp model) =>
        model.Layers.SelectMany(l => new[] { Values(l.weight!), Values(l.bias!) }).ToList();

    /// <summary>A parameter's values; a copy first, since parameters may be views into a flat buffer.</summary>
    private static float[] Values(Tensor parameter)
    {
        using var copy = parameter.detach().cpu().contiguous().clone();
        return copy.data<float>().ToArray();
    }

    public static void Restore(Mlp model, List<float[]> weights)
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
        _model.Dispose();
        _parameters.Dispose();
        _gradients.Dispose();
        _moment1.Dispose();
        _moment2.Dispose();
    }
}
