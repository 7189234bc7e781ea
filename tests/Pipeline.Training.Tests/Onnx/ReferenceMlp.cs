using Pipeline.Training.Onnx;

namespace Pipeline.Tests.Core.Onnx;

/// <summary>Seeded random MLPs and a plain C# forward pass to compare exported graphs against.</summary>
internal static class ReferenceMlp
{
    /// <summary>A random network with the given layer sizes (first = feature count, last = output count).</summary>
    public static MlpDefinition Create(MlpTask task, int seed, params int[] sizes)
    {
        var random = new Random(seed);
        var features = sizes[0];
        var layers = new List<DenseLayer>();
        for (var i = 1; i < sizes.Length; i++)
        {
            var (input, output) = (sizes[i - 1], sizes[i]);
            var bound = 1 / MathF.Sqrt(input); // torch.nn.Linear's default init range
            layers.Add(new DenseLayer(
                input,
                output,
                Uniform(random, input * output, -bound, bound),
                Uniform(random, output, -bound, bound)));
        }

        var std = Uniform(random, features, 0.5f, 3f);
        std[0] = 0; // a constant column
        std[^1] = 1e-9f; // a numerically constant column
        return new MlpDefinition(
            task,
            [.. Enumerable.Range(0, features).Select(j => $"f{j}")],
            Uniform(random, features, -5f, 5f),
            std,
            layers,
            task == MlpTask.Classification ? [.. Enumerable.Range(0, sizes[^1]).Select(k => $"class-{k}")] : null,
            TargetMean: task == MlpTask.Regression ? 12.5f : 0,
            TargetStd: task == MlpTask.Regression ? 3.25f : 1);
    }

    /// <summary>Rows of random feature values around the definition's means, row-major.</summary>
    public static float[] RandomRows(MlpDefinition definition, int rows, int seed)
    {
        var random = new Random(seed);
        var features = definition.FeatureNames.Count;
        var data = new float[rows * features];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = definition.FeatureMean[i % features] + (16f * random.NextSingle()) - 8f;
        }

        return data;
    }

    /// <summary>
    /// The expected outputs of one row, computed in double: standardize (std ≤ 1e-6 counts as 1), dense layers with ReLU
    /// between them, then softmax or de-standardization.
    /// </summary>
    public static double[] Forward(MlpDefinition definition, ReadOnlySpan<float> row)
    {
        var x = new double[row.Length];
        for (var j = 0; j < x.Length; j++)
        {
            var std = definition.FeatureStd[j] <= 1e-6f ? 1.0 : definition.FeatureStd[j];
            x[j] = (row[j] - definition.FeatureMean[j]) / std;
        }

        for (var l = 0; l < definition.Layers.Count; l++)
        {
            var layer = definition.Layers[l];
            var y = new double[layer.OutputSize];
            for (var o = 0; o < layer.OutputSize; o++)
            {
                var sum = (double)layer.Bias[o];
                for (var i = 0; i < layer.InputSize; i++)
                {
                    sum += layer.Weight[(o * layer.InputSize) + i] * x[i];
                }

                y[o] = l < definition.Layers.Count - 1 ? Math.Max(0, sum) : sum;
            }

            x = y;
        }

        if (definition.Task == MlpTask.Regression)
        {
            return [(x[0] * definition.TargetStd) + definition.TargetMean];
        }

        var max = x.Max();
        var exp = x.Select(v => Math.Exp(v - max)).ToArray();
        var total = exp.Sum();
        return [.. exp.Select(e => e / total)];
    }

    private static float[] Uniform(Random random, int count, float min, float max)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = min + ((max - min) * random.NextSingle());
        }

        return values;
    }
}
