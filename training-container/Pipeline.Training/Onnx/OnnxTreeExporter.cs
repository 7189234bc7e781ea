using Google.Protobuf;
using Pipeline.Training.Gbdt;
using Pipeline.Training.Onnx.Proto;
using static Pipeline.Contracts.OnnxContract;
using static Pipeline.Training.Onnx.OnnxBuilder;

namespace Pipeline.Training.Onnx;

/// <summary>
/// Writes a LightGBM model as an ONNX graph with the same contract as the MLP exporter (input <c>features</c> float32
/// <c>[batch, features]</c>; output <c>probabilities</c> <c>[batch, classes]</c> or <c>value</c> <c>[batch, 1]</c>):
/// <c>features → Cast(double) → ai.onnx.ml TreeEnsembleRegressor (raw scores) → Softmax(axis=1)</c> for classification.
/// The ensemble reads its input, thresholds and leaf values as float64 (<c>*_as_tensor</c> attributes, <c>ai.onnx.ml</c>
/// opset 3), so every split compares <c>(double)x ≤ threshold</c> exactly as LightGBM does and leaves are summed in double:
/// float32 thresholds would send rows that fall between a threshold and its float rounding the other way.
/// A binary model's raw score r becomes <c>softmax([0, r]) = [1 − σ(r), σ(r)]</c> (target 0 has no leaves), LightGBM's
/// <c>sigmoid:1</c> probability. A random forest's average is a sum with every leaf divided by the number of rounds.
/// Trees carry no feature standardization: splits are on the encoded feature values.
/// </summary>
public static class OnnxTreeExporter
{
    /// <summary><c>ai.onnx.ml</c> operator set: version 3 adds the float64 <c>*_as_tensor</c> attributes.</summary>
    public const int MlOpsetVersion = 3;

    public const string MlDomain = "ai.onnx.ml";

    /// <summary>Builds the ONNX model of <paramref name="model"/>.</summary>
    /// <param name="model">The parsed LightGBM model.</param>
    /// <param name="featureNames">Input columns, in LightGBM's feature order.</param>
    /// <param name="classLabels">Classification: the labels in class-index order; regression: null.</param>
    /// <param name="metadata">Extra <c>metadata_props</c>; must not use the keys the exporter writes itself.</param>
    /// <exception cref="NotSupportedException">The model uses a LightGBM feature the exporter does not translate (zero-as-missing or categorical splits).</exception>
    /// <exception cref="ArgumentException">The features or labels do not match the model.</exception>
    public static ModelProto Build(LightGbmModel model, IReadOnlyList<string> featureNames, IReadOnlyList<string>? classLabels, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(featureNames);
        OnnxMlpExporter.ValidateMetadata(metadata);
        var classification = classLabels is not null;
        if (featureNames.Count < model.Features)
        {
            throw new ArgumentException($"The model splits on {model.Features} features but {featureNames.Count} names are given.", nameof(featureNames));
        }

        // A random forest averages its trees: each leaf carries its share of the average.
        var leafScale = model.AverageOutput && model.Trees.Count > 0 ? (double)model.TreesPerIteration / model.Trees.Count : 1.0;

        // Scores the ensemble emits: one per class (binary: [0, r]), or the value.
        int targets;
        int offset;
        if (classification)
        {
            if (classLabels!.Count < 2)
            {
                throw new ArgumentException($"Classification needs at least 2 labels; {classLabels.Count} given.", nameof(classLabels));
            }

            var binary = model.TreesPerIteration == 1;
            if (binary && (classLabels.Count != 2 || !model.Objective.StartsWith("binary", StringComparison.Ordinal)))
            {
                throw new ArgumentException($"A model with one tree per iteration (objective '{model.Objective}') is binary; {classLabels.Count} labels given.", nameof(classLabels));
            }

            if (binary && model.Objective.Contains("sigmoid:", StringComparison.Ordinal) && !model.Objective.Contains("sigmoid:1", StringComparison.Ordinal))
            {
                throw new NotSupportedException($"Objective '{model.Objective}': only sigmoid:1 is exported.");
            }

            if (!binary && model.TreesPerIteration != classLabels.Count)
            {
                throw new ArgumentException($"The model has {model.TreesPerIteration} trees per iteration but {classLabels.Count} labels are given.", nameof(classLabels));
            }

            targets = classLabels.Count;
            offset = binary ? 1 : 0;
        }
        else
        {
            if (model.TreesPerIteration != 1)
            {
                throw new ArgumentException($"A regression model has one tree per iteration; this one has {model.TreesPerIteration}.", nameof(model));
            }

            targets = 1;
            offset = 0;
        }

        var treeIds = new List<long>();
        var nodeIds = new List<long>();
        var featureIds = new List<long>();
        var modes = new List<string>();
        var thresholds = new List<double>();
        var trueIds = new List<long>();
        var falseIds = new List<long>();
        var missingTracksTrue = new List<long>();
        var targetTreeIds = new List<long>();
        var targetNodeIds = new List<long>();
        var targetIds = new List<long>();
        var weights = new List<double>();
        for (var t = 0; t < model.Trees.Count; t++)
        {
            var tree = model.Trees[t];
            var internalNodes = tree.Leaves - 1;
            long Id(int child) => child >= 0 ? child : internalNodes + ~child;
            for (var n = 0; n < internalNodes; n++)
            {
                var decision = tree.DecisionType[n];
                if (LightGbmTree.Categorical(decision))
                {
                    throw new NotSupportedException($"Tree {t} node {n} is a categorical split; the trainer builds numerical splits only.");
                }

                if (LightGbmTree.MissingType(decision) == 1)
                {
                    throw new NotSupportedException($"Tree {t} node {n} treats zero as missing (zero_as_missing); not exported.");
                }

                treeIds.Add(t);
                nodeIds.Add(n);
                featureIds.Add(tree.SplitFeature[n]);
                modes.Add("BRANCH_LEQ");
                thresholds.Add(tree.Threshold[n]);
                trueIds.Add(Id(tree.LeftChild[n]));
                falseIds.Add(Id(tree.RightChild[n]));
                // NaN-is-missing splits send NaN the default way; others never see NaN from the encoder (LightGBM reads it as 0).
                missingTracksTrue.Add(LightGbmTree.MissingType(decision) == 2 && LightGbmTree.DefaultLeft(decision) ? 1 : 0);
            }

            for (var leaf = 0; leaf < tree.Leaves; leaf++)
            {
                treeIds.Add(t);
                nodeIds.Add(internalNodes + leaf);
                featureIds.Add(0);
                modes.Add("LEAF");
                thresholds.Add(0);
                trueIds.Add(0);
                falseIds.Add(0);
                missingTracksTrue.Add(0);
                targetTreeIds.Add(t);
                targetNodeIds.Add(internalNodes + leaf);
                targetIds.Add((t % model.TreesPerIteration) + offset);
                weights.Add(tree.LeafValue[leaf] * leafScale);
            }
        }

        var graph = new GraphProto { Name = "gbdt" };
        graph.Input.Add(OnnxMlpExporter.FloatMatrixValue(InputName, featureNames.Count));
        graph.Node.Add(Node("Cast", "features.cast", [InputName], "features.double", IntAttribute("to", (long)TensorProto.Types.DataType.Double)));
        var scores = classification ? "scores" : ValueOutput;
        var ensemble = Node("TreeEnsembleRegressor", "trees", ["features.double"], scores,
            IntAttribute("n_targets", targets),
            StringAttribute("aggregate_function", "SUM"),
            StringAttribute("post_transform", "NONE"),
            IntsAttribute("nodes_treeids", treeIds),
            IntsAttribute("nodes_nodeids", nodeIds),
            IntsAttribute("nodes_featureids", featureIds),
            StringsAttribute("nodes_modes", modes),
            TensorAttribute("nodes_values_as_tensor", DoubleTensor("", [.. thresholds], thresholds.Count)),
            IntsAttribute("nodes_truenodeids", trueIds),
            IntsAttribute("nodes_falsenodeids", falseIds),
            IntsAttribute("nodes_missing_value_tracks_true", missingTracksTrue),
            IntsAttribute("target_treeids", targetTreeIds),
            IntsAttribute("target_nodeids", targetNodeIds),
            IntsAttribute("target_ids", targetIds),
            TensorAttribute("target_weights_as_tensor", DoubleTensor("", [.. weights], weights.Count)),
            TensorAttribute("base_values_as_tensor", DoubleTensor("", new double[targets], targets)));
        ensemble.Domain = MlDomain;
        graph.Node.Add(ensemble);
        if (classification)
        {
            graph.Node.Add(Node("Softmax", "softmax", [scores], ProbabilitiesOutput, IntAttribute("axis", 1)));
            graph.Output.Add(OnnxMlpExporter.FloatMatrixValue(ProbabilitiesOutput, targets));
        }
        else
        {
            graph.Output.Add(OnnxMlpExporter.FloatMatrixValue(ValueOutput, 1));
        }

        var onnx = new ModelProto { IrVersion = OnnxMlpExporter.IrVersion, ProducerName = OnnxMlpExporter.ProducerName, Graph = graph };
        onnx.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxMlpExporter.OpsetVersion });
        onnx.OpsetImport.Add(new OperatorSetIdProto { Domain = MlDomain, Version = MlOpsetVersion });
        onnx.MetadataProps.Add(OnnxMlpExporter.Entry(TaskMetadataKey, classification ? "classification" : "regression"));
        onnx.MetadataProps.Add(OnnxMlpExporter.Entry(FeaturesMetadataKey, OnnxMlpExporter.JsonStringArray(featureNames)));
        if (classification)
        {
            onnx.MetadataProps.Add(OnnxMlpExporter.Entry(LabelsMetadataKey, OnnxMlpExporter.JsonStringArray(classLabels!)));
        }

        if (metadata is not null)
        {
            foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                onnx.MetadataProps.Add(OnnxMlpExporter.Entry(key, value));
            }
        }

        return onnx;
    }

    /// <summary>Builds the ONNX model and serializes it (the bytes of a <c>.onnx</c> file).</summary>
    /// <inheritdoc cref="Build" path="/param"/>
    public static byte[] Export(LightGbmModel model, IReadOnlyList<string> featureNames, IReadOnlyList<string>? classLabels, IReadOnlyDictionary<string, string>? metadata = null) =>
        Build(model, featureNames, classLabels, metadata).ToByteArray();
}
