namespace Pipeline.Trainer.Training;

/// <summary>Quality metrics from model outputs (row-major) and targets (label index or value).</summary>
public static class Metrics
{
    public static Dictionary<string, double> Classification(float[] probabilities, float[] target, int classes)
    {
        var correct = 0;
        var logLoss = 0.0;
        for (var r = 0; r < target.Length; r++)
        {
            var row = probabilities.AsSpan(r * classes, classes);
            var best = 0;
            for (var k = 1; k < classes; k++)
            {
                if (row[k] > row[best])
                {
                    best = k;
                }
            }

            var truth = (int)target[r];
            correct += best == truth ? 1 : 0;
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
