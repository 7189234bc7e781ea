using Pipeline.Contracts;
using Pipeline.Training.Gbdt;
using Pipeline.Training.Onnx;

namespace Pipeline.Training;

/// <summary>
/// The chosen model exported to ONNX, with the trained model itself as the reference the graph must reproduce: the torch
/// module's forward pass for networks, LightGBM's own prediction for tree ensembles. Both predict in the served layout
/// (probabilities <c>[rows, classes]</c> or values <c>[rows, 1]</c>) from raw feature rows.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly TrainedModel? _network;
    private readonly LightGbmBooster? _booster;
    private readonly TrainingData _data;

    private ServedModel(TrainingData data, byte[] onnx, TrainedModel? network, LightGbmBooster? booster, int? trees, int? leaves)
    {
        _data = data;
        Onnx = onnx;
        _network = network;
        _booster = booster;
        Trees = trees;
        Leaves = leaves;
    }

    /// <summary>The fp32 ONNX model.</summary>
    public byte[] Onnx { get; }

    /// <summary>Trees in the ensemble; null for a network.</summary>
    public int? Trees { get; }

    /// <summary>Leaves of all trees (the ensemble's size to serve); null for a network.</summary>
    public int? Leaves { get; }

    /// <param name="data">The splits the model was searched on (feature layout, statistics).</param>
    /// <param name="chosen">The chosen (possibly refit) trial.</param>
    /// <param name="features">Feature names, in input order.</param>
    /// <param name="manifest">The dataset version (labels).</param>
    /// <param name="metadata">Extra ONNX metadata.</param>
    public static ServedModel Create(TrainingData data, TrialState chosen, IReadOnlyList<string> features, DatasetManifest manifest, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(chosen);
        ArgumentNullException.ThrowIfNull(manifest);
        if (chosen.TreeModel is { } text)
        {
            var model = LightGbmModel.Parse(text);
            var onnx = OnnxTreeExporter.Export(model, features, data.Classification ? manifest.Labels : null, metadata);
            return new ServedModel(data, onnx, null, LightGbmBooster.Load(text), model.Trees.Count, model.Trees.Sum(t => t.Leaves));
        }

        var network = TrialTrainer.Build(data, chosen);
        try
        {
            return new ServedModel(data, OnnxMlpExporter.Export(network.Definition, metadata), network, null, null, null);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The trained model's own prediction for <paramref name="rows"/> raw rows (row-major).</summary>
    public float[] Predict(float[] rowMajor, int rows) => _booster is not null
        ? GbdtTrainer.PredictServed(_booster, rowMajor, rows, _data.FeatureCount, _data.Outputs, _data.Classification)
        : _network!.Predict(rowMajor, rows);

    public void Dispose()
    {
        _network?.Dispose();
        _booster?.Dispose();
    }
}
