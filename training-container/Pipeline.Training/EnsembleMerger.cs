namespace Pipeline.Training;

/// <summary>
/// Merges K MLPs of one architecture into one wider MLP that computes the mean of their outputs (logits for classification,
/// values for regression): the first layer stacks the members' rows, hidden layers are block-diagonal, the last layer
/// concatenates the members' columns scaled by 1/K with the mean bias. The result is still Gemm + Relu, so export,
/// parity check and quantization treat it like any other MLP. Linear members merge into their mean.
/// </summary>
public static class EnsembleMerger
{
    /// <param name="members">Each member's weights: (weight row-major [out, in], bias) per layer, as <see cref="TrialState.BestWeights"/>.</param>
    /// <param name="inputs">Input features.</param>
    /// <param name="hidden">The members' hidden layer widths.</param>
    /// <param name="outputs">Output width.</param>
    /// <returns>The merged weights, for hidden widths <c>hidden × K</c>.</returns>
    public static List<float[]> Merge(IReadOnlyList<List<float[]>> members, int inputs, IReadOnlyList<int> hidden, int outputs)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(hidden);
        var k = members.Count;
        if (k == 0)
        {
            throw new ArgumentException("An ensemble needs at least one member.", nameof(members));
        }

        if (hidden.Count == 0)
        {
            return [Mean(members.Select(m => m[0]).ToList()), Mean(members.Select(m => m[1]).ToList())];
        }

        var merged = new List<float[]>();
        var widths = hidden.Append(outputs).ToList();
        for (var layer = 0; layer < widths.Count; layer++)
        {
            var fanIn = layer == 0 ? inputs : widths[layer - 1];
            var fanOut = widths[layer];
            var first = layer == 0;
            var last = layer == widths.Count - 1;
            var mergedIn = first ? fanIn : fanIn * k;
            var mergedOut = last ? fanOut : fanOut * k;
            var weight = new float[mergedOut * mergedIn];
            var bias = new float[mergedOut];
            for (var m = 0; m < k; m++)
            {
                var w = members[m][2 * layer];
                var b = members[m][(2 * layer) + 1];
                var rowOffset = last ? 0 : m * fanOut;
                var columnOffset = first ? 0 : m * fanIn;
                var scale = last ? 1f / k : 1f;
                for (var o = 0; o < fanOut; o++)
                {
                    for (var i = 0; i < fanIn; i++)
                    {
                        weight[((rowOffset + o) * mergedIn) + columnOffset + i] += w[(o * fanIn) + i] * scale;
                    }

                    bias[rowOffset + o] += b[o] * scale;
                }
            }

            merged.Add(weight);
            merged.Add(bias);
        }

        return merged;
    }

    private static float[] Mean(List<float[]> arrays)
    {
        var result = new float[arrays[0].Length];
        foreach (var array in arrays)
        {
            for (var i = 0; i < result.Length; i++)
            {
                result[i] += array[i] / arrays.Count;
            }
        }

        return result;
    }
}
