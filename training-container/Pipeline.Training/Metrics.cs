namespace Pipeline.Training;

/// <summary>Quality metrics from model outputs (row-major) and targets (label index or value).</summary>
public static class Metrics
{
    /// <summary>Index of the largest value (the first on ties): the predicted class of a row of probabilities.</summary>
    public static int ArgMax(ReadOnlySpan<float> row)
    {
        var best = 0;
        for (var k = 1; k < row.Length; k++)
        {
            best = row[k] > row[best] ? k : best;
        }

        return best;
    }

    public static Dictionary<string, double> Classification(float[] probabilities, float[] target, int classes)
    {
        var correct = 0;
        var logLoss = 0.0;
        for (var r = 0; r < target.Length; r++)
        {
            var row = probabilities.AsSpan(r * classes, classes);
            var truth = (int)target[r];
            correct += ArgMax(row) == truth ? 1 : 0;
            logLoss -= Math.Log(Math.Max(row[truth], 1e-7));
        }

        return new Dictionary<string, double>
        {
            ["accuracy"] = (double)correct / target.Length,
            ["logLoss"] = logLoss / target.Length,
        };
    }

    public static Dictionary<string, double> Regression(float[] predicted, float[] target)
    {
        var mean = target.Average(t => (double)t);
        double squared = 0, absolute = 0, total = 0;
        for (var r = 0; r < target.Length; r++)
        {
            var error = (double)predicted[r] - target[r];
            squared += error * error;
            absolute += Math.Abs(error);
            total += (target[r] - mean) * (target[r] - mean);
        }

        return new Dictionary<string, double>
        {
            ["r2"] = total > 0 ? 1 - (squared / total) : 0,
            ["rmse"] = Math.Sqrt(squared / target.Length),
            ["mae"] = absolute / target.Length,
        };
    }
}
