using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Tests.Infrastructure;
using Pipeline.Training;
using static TorchSharp.torch;

namespace Pipeline.Tests.Trainer;

/// <summary>Ridge and logistic regression fitted exactly: known solutions, the search's use of them, and the exported graph.</summary>
[Collection(TorchDeterminism.Name)]
public class ExactLinearTests
{
    private const int Rows = 30;

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]
    [InlineData(25.0)]
    public void Ridge_EqualsTheNormalEquationsSolvedIndependently(double penalty)
    {
        var (x, columns) = Features();
        var y = Enumerable.Range(0, Rows).Select(i => (2 * x[i * columns]) - x[(i * columns) + 1] + (0.5 * x[(i * columns) + 2]) + 3 + Math.Sin(i * 7.0)).ToArray();

        var (w, b) = ExactLinear.Ridge(x, Rows, columns, y, penalty);

        var expected = NormalEquations(x, Rows, columns, y, penalty);
        Assert.Equal(expected[..columns], w, (e, v) => Math.Abs(e - v) < 1e-9);
        Assert.Equal(expected[columns], b, 9);
    }

    [Fact]
    public void Ridge_TableOfSeveralBlocksWithOffsetColumns_EqualsTheNormalEquations()
    {
        // 20,000 rows: the Gram matrix is summed over blocks of centred rows; columns far from zero test the centring.
        const int rows = 20_000;
        const int columns = 3;
        var random = new Random(8);
        var x = new double[rows * columns];
        var y = new double[rows];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                x[(i * columns) + j] = (100 * j) + ((j + 1) * SyntheticData.Gaussian(random));
            }

            y[i] = x[i * columns] - (0.5 * x[(i * columns) + 2]) + SyntheticData.Gaussian(random);
        }

        var (w, b) = ExactLinear.Ridge(x, rows, columns, y, 0.1);

        var expected = NormalEquations(x, rows, columns, y, 0.1);
        Assert.Equal(expected[..columns], w, (e, v) => Math.Abs(e - v) < 1e-8);
        Assert.Equal(expected[columns], b, 6);
    }

    /// <summary>
    /// (1/n)·‖y − Xw − b‖² + λ‖w‖²: the gradient is zero where [XᵀX + nλI, Xᵀ1; 1ᵀX, n]·[w; b] = [Xᵀy; 1ᵀy] (intercept
    /// unpenalised); solved by Gauss-Jordan elimination.
    /// </summary>
    private static double[] NormalEquations(double[] x, int rows, int columns, double[] y, double penalty)
    {
        var size = columns + 1;
        var a = new double[size, size + 1];
        for (var i = 0; i < rows; i++)
        {
            double[] row = [.. x.Skip(i * columns).Take(columns), 1];
            for (var j = 0; j < size; j++)
            {
                for (var k = 0; k < size; k++)
                {
                    a[j, k] += row[j] * row[k];
                }

                a[j, size] += row[j] * y[i];
            }
        }

        for (var j = 0; j < columns; j++)
        {
            a[j, j] += rows * penalty;
        }

        return GaussJordan(a);
    }

    [Fact]
    public void Path_ClockRunsOutWithinALogisticFit_StopsThatFitAndSaysCut()
    {
        var (manifest, train, validation, _) = SyntheticData.ThreeClassDataset(400, seed: 6);
        using var data = new TrainingData(manifest, train, validation, CPU);
        var asked = 0;

        // The clock is asked between L-BFGS steps: it runs out on the second question, after one step of the first penalty's fit.
        var path = ExactLinear.Path(data, encoded: false, train.RowCount + validation.RowCount, () => ++asked > 1, TestContext.Current.CancellationToken, out var cut);

        Assert.True(cut);
        Assert.Single(path);
        Assert.Equal(2, asked);
        Assert.Equal(ExactLinear.LogisticPenalties[0], path[0].Penalty);
        Assert.True(double.IsFinite(path[0].ValidationLoss));
    }

    [Fact]
    public void Path_GridFollowsTheWholeTableNotTheRowsOfOneFit()
    {
        var (manifest, train, validation, _) = SyntheticData.ThreeClassDataset(400, seed: 6);
        using var data = new TrainingData(manifest, train, validation, CPU);

        // A fold of a table above LargeRows tries the large table's grid, whatever its own train rows.
        var large = ExactLinear.Path(data, encoded: false, ExactLinear.LargeRows + 1, () => false, TestContext.Current.CancellationToken, out _);
        var small = ExactLinear.Path(data, encoded: false, ExactLinear.LargeRows, () => false, TestContext.Current.CancellationToken, out _);

        Assert.Equal(7, ExactLinear.Penalties(classification: true, ExactLinear.LargeRows + 1).Count);
        Assert.Equal(ExactLinear.LogisticPenalties, ExactLinear.Penalties(classification: true, ExactLinear.LargeRows));
        Assert.All(large, f => Assert.Contains(f.Penalty, ExactLinear.Penalties(classification: true, ExactLinear.LargeRows + 1)));
        Assert.Equal(ExactLinear.LogisticPenalties.Take(small.Count), small.Select(f => f.Penalty));
        Assert.Contains(small, f => !ExactLinear.Penalties(classification: true, ExactLinear.LargeRows + 1).Contains(f.Penalty));
    }

    [Fact]
    public void Logistic_Binary_EqualsScikitLearnsSolution()
    {
        // scikit-learn 1.2.1: LogisticRegression(C = 1 / (30 · 0.01), solver = "newton-cg", tol = 1e-14).fit(X, y) on the same rows.
        double[] coef = [1.0454729405275245, 1.5644451810844255, -2.5401313942527803];
        double[] probability = [0.04788923224884671, 0.9667552296283068, 0.9984118297300664, 0.8980351839755305, 0.031171828966062735];
        var (x, columns) = Features();
        var y = Enumerable.Range(0, Rows).Select(i => x[i * columns] + (0.5 * x[(i * columns) + 1]) - x[(i * columns) + 2] + Math.Sin(i * 5.0) > 0 ? 1 : 0).ToArray();
        Assert.Equal([0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0], y);

        var (w, b) = ExactLinear.Logistic(x, Rows, columns, y, classes: 2, penalty: 0.01);

        // Two softmax rows: their difference is scikit-learn's one coefficient vector.
        Assert.Equal(coef, Enumerable.Range(0, columns).Select(j => w[columns + j] - w[j]), (e, v) => Math.Abs(e - v) < 1e-5);
        var p = Probabilities(x, columns, w, b, 2);
        Assert.Equal(probability, Enumerable.Range(0, 5).Select(i => p[(i * 2) + 1]), (e, v) => Math.Abs(e - v) < 1e-6);
    }

    [Fact]
    public void Logistic_Multinomial_EqualsScikitLearnsSolution()
    {
        // scikit-learn 1.2.1: LogisticRegression(C = 1 / (30 · 0.01), solver = "newton-cg", tol = 1e-14, multi_class = "multinomial"): its gradient there is 2e-13.
        double[] coef = [-0.821203084842652, 0.9905847015860682, -0.5365495654014589, -0.03368976253626767, 0.05644460598638874, -0.0060015786703094464,
            0.8548928473789182, -1.0470293075724575, 0.5425511440717671];
        double[] probabilities = [0.5842481910272165, 0.3622983119746036, 0.05345349699817994, 0.17172301067463783, 0.45408469702336574, 0.37419229230199647,
            0.02958398704023732, 0.21429804598836097, 0.7561179669714018];
        var (x, columns) = Features();
        var y = Enumerable.Range(0, Rows).Select(i => i % 3).ToArray();
        for (var i = 0; i < Rows; i++)
        {
            x[i * columns] += y[i] * 0.8;
            x[(i * columns) + 1] -= y[i] * 0.5;
        }

        var (w, b) = ExactLinear.Logistic(x, Rows, columns, y, classes: 3, penalty: 0.01);

        Assert.Equal(coef, w, (e, v) => Math.Abs(e - v) < 1e-6);
        Assert.Equal(probabilities, Probabilities(x, columns, w, b, 3).Take(9), (e, v) => Math.Abs(e - v) < 1e-6);
    }

    [Fact]
    public void Logistic_SeparableData_ConvergesToAFiniteOptimumThatShrinksWithThePenalty()
    {
        var (x, columns) = Features();
        var y = Enumerable.Range(0, Rows).Select(i => x[i * columns] - x[(i * columns) + 1] > 0 ? 1 : 0).ToArray();
        var norms = new List<double>();
        foreach (var penalty in new[] { 1e-4, 1e-2, 1 })
        {
            var (w, b) = ExactLinear.Logistic(x, Rows, columns, y, classes: 2, penalty);

            // Stationary: the gradient of (1/n)·Σ cross-entropy + λ‖W‖² (two rows: the binary penalty) vanishes.
            var p = Probabilities(x, columns, w, b, 2);
            for (var k = 0; k < 2; k++)
            {
                for (var j = 0; j <= columns; j++)
                {
                    var gradient = Enumerable.Range(0, Rows).Sum(i => (p[(i * 2) + k] - (y[i] == k ? 1 : 0)) * (j < columns ? x[(i * columns) + j] : 1)) / Rows
                        + (j < columns ? 2 * penalty * w[(k * columns) + j] : 0);
                    Assert.True(Math.Abs(gradient) < 1e-6, $"penalty {penalty}: gradient {gradient} at class {k}, column {j}");
                }
            }

            Assert.All(w, v => Assert.True(double.IsFinite(v)));
            norms.Add(Math.Sqrt(w.Sum(v => v * v)));
            if (penalty <= 1e-2)
            {
                Assert.All(Enumerable.Range(0, Rows), i => Assert.Equal(y[i], p[(i * 2) + 1] > 0.5 ? 1 : 0));
            }
        }

        Assert.True(norms[0] > norms[1] && norms[1] > norms[2], string.Join(", ", norms));
    }

    [Fact]
    public void Run_CrossValidated_ExactLinearWins_ServesThePenaltyWithTheLowestMeanFoldLossFitOnEveryRow()
    {
        var (manifest, train, validation) = LinearRegression(200);
        using var data = new TrainingData(manifest, train, validation, CPU);
        using var cv = new CrossValidation(manifest, train, validation, folds: 5, seed: 3, CPU, encoding: data.Encoding);
        TrialParameters[] trials = [TrialParameters.Regularized(encoded: false), new([16], 3e-3, 1e-2, 0, 32)];
        var search = new ModelSearch(data, new SearchBudget(2, 3600, 10, 5), seed: 3, new SearchState { Fingerprint = "test" }, TimeProvider.System, folds: cv, trials: trials);

        var served = search.Run(null, TestContext.Current.CancellationToken);

        var chosen = search.State.Completed[search.State.Best];
        Assert.True(chosen.Parameters.Exact);
        Assert.Equal(ModelFamily.Linear, chosen.Parameters.Family);
        var paths = cv.Folds.Select(f => ExactLinear.Path(f, encoded: false, cv.Combined.TrainRows, () => false, TestContext.Current.CancellationToken, out _)).ToList();
        var best = Enumerable.Range(0, ExactLinear.RidgePenalties.Count).MinBy(j => paths.Average(p => p[j].ValidationLoss));
        Assert.Equal(ExactLinear.RidgePenalties[best], chosen.Parameters.WeightDecay);
        Assert.Equal(paths.Select(p => p[best].ValidationLoss), chosen.FoldLosses!);
        Assert.Equal(ExactLinear.Fit(cv.Combined, encoded: false, chosen.Parameters.WeightDecay), served.BestWeights);
        Assert.DoesNotContain("time budget", search.State.StoppedBy, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { 0.98, 1.05, 0.92, 0.97, 1.10 }, false)] // fold differences 0.02 0.05 −0.02 0.03 0.10: mean 0.036 > standard error 0.020
    [InlineData(new[] { 0.99, 1.12, 0.85, 1.02, 1.15 }, true)] // 0.01 −0.02 0.05 −0.02 0.05: mean 0.014 < standard error 0.016
    [InlineData(new[] { 1.01, 1.12, 0.91, 1.02, 1.21 }, false)] // the linear model has the lowest mean loss itself
    public void LinearWithinOneStandardError_PrefersTheLinearModelUnlessTheLowestBeatsItByMoreThanTheFoldNoise(double[] network, bool linearChosen)
    {
        TrialOutcome Trial(TrialParameters p, double[] folds) => new() { Parameters = p, FoldLosses = [.. folds], ValidationLoss = folds.Average() };
        TrialOutcome[] trials =
        [
            Trial(TrialParameters.Regularized(encoded: false), [1.0, 1.1, 0.9, 1.0, 1.2]),
            Trial(TrialParameters.Regularized(encoded: true), [1.1, 1.2, 1.0, 1.1, 1.3]),
            Trial(new([64], 3e-3, 1e-2, 0, 64), network),
            Trial(new([64], 3e-3, 1e-2, 0, 64), [.. network.Select(v => v + 0.5)]),
        ];

        var choice = ModelSearch.LinearWithinOneStandardError(trials);

        Assert.Equal(linearChosen ? (0, 2) : null, choice);
    }

    [Fact]
    public void LinearWithinOneStandardError_OnlyThePlainLinearModelIsPreferred_NotTheEncodedOne()
    {
        TrialOutcome Trial(TrialParameters p, double[] folds) => new() { Parameters = p, FoldLosses = [.. folds], ValidationLoss = folds.Average() };
        double[] encoded = [1.0, 1.1, 0.9, 1.0, 1.2];
        TrialOutcome[] trials =
        [
            Trial(TrialParameters.Regularized(encoded: false), [.. encoded.Select(v => v + 0.3)]),
            Trial(TrialParameters.Regularized(encoded: true), encoded),
            // Within one standard error of the encoded regression (as in the theory above), far ahead of the plain one.
            Trial(new([64], 3e-3, 1e-2, 0, 64), [0.99, 1.12, 0.85, 1.02, 1.15]),
        ];

        Assert.Null(ModelSearch.LinearWithinOneStandardError(trials));

        // The encoded regression with the lowest loss of all is chosen as the lowest, not by the rule.
        trials[1] = Trial(TrialParameters.Regularized(encoded: true), [.. encoded.Select(v => v - 0.2)]);
        Assert.Null(ModelSearch.LinearWithinOneStandardError(trials));
    }

    [Fact]
    public void ServedModel_ExactRegression_OnnxEqualsTheWeightsAppliedToRawRows()
    {
        var (manifest, train, validation) = LinearRegression(300);
        using var data = new TrainingData(manifest, train, validation, CPU);
        var search = new ModelSearch(data, new SearchBudget(1, 3600, 10, 5), seed: 1, new SearchState { Fingerprint = "test" }, TimeProvider.System,
            trials: [TrialParameters.Regularized(encoded: false)]);
        var chosen = search.Run(null, TestContext.Current.CancellationToken);
        var features = manifest.Features.Select(f => f.Name).ToList();
        using var served = ServedModel.Create(data, chosen, features, manifest, new Dictionary<string, string>());
        var rows = MlpTrainer.ToRowMajor(validation);

        float[] onnx;
        using (var evaluator = new OnnxEvaluator(served.Onnx, OnnxContract.InputName, OnnxContract.ValueOutput))
        {
            onnx = evaluator.Run(rows, validation.RowCount, features.Count);
        }

        // value = (w · standardized row + b) · target std + target mean, in double.
        var w = chosen.BestWeights[0];
        var b = chosen.BestWeights[1][0];
        for (var r = 0; r < validation.RowCount; r++)
        {
            var z = b + Enumerable.Range(0, features.Count).Sum(f => w[f] * ((rows[(r * features.Count) + f] - (double)data.Mean[f]) / data.Std[f]));
            Assert.Equal((z * data.TargetStd) + data.TargetMean, onnx[r], 1e-5 * Math.Max(1, Math.Abs(data.TargetMean) + data.TargetStd));
        }

        Assert.True(Metrics.Regression(onnx, validation.Target)["r2"] > 0.9);
    }

    [Fact]
    public void ServedModel_ExactLogisticOnEncodedInputs_OnnxEqualsTheTrainedModel()
    {
        var (manifest, train, validation, test) = SyntheticData.ThreeClassDataset(400, seed: 6);
        using var data = new TrainingData(manifest, train, validation, CPU);
        var search = new ModelSearch(data, new SearchBudget(1, 3600, 10, 5), seed: 1, new SearchState { Fingerprint = "test" }, TimeProvider.System,
            trials: [TrialParameters.Regularized(encoded: true)]);
        var chosen = search.Run(null, TestContext.Current.CancellationToken);
        using var served = ServedModel.Create(data, chosen, [.. manifest.Features.Select(f => f.Name)], manifest, new Dictionary<string, string>());
        var rows = MlpTrainer.ToRowMajor(test);

        using var evaluator = new OnnxEvaluator(served.Onnx, OnnxContract.InputName, OnnxContract.ProbabilitiesOutput);
        var onnx = evaluator.Run(rows, test.RowCount, 3);
        var expected = served.Predict(rows, test.RowCount);

        Assert.Equal(expected, onnx, (e, v) => Math.Abs(e - v) < 1e-5);
        Assert.True(Metrics.Classification(onnx, test.Target, 3)["accuracy"] > 0.8);
        Assert.Equal(search.State.Completed[0].Epochs, search.State.Completed[0].History.Count);
    }

    /// <summary>Thirty rows of three smooth, correlated features (the rows the scikit-learn references were computed on).</summary>
    private static (double[] X, int Columns) Features()
    {
        const int columns = 3;
        var x = new double[Rows * columns];
        for (var i = 0; i < Rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                x[(i * columns) + j] = (Math.Sin((i * 1.3) + (j * 0.7)) * 2) + Math.Cos(i * 0.31 * (j + 1));
            }
        }

        return (x, columns);
    }

    private static double[] Probabilities(double[] x, int columns, double[] w, double[] b, int classes)
    {
        var p = new double[Rows * classes];
        for (var i = 0; i < Rows; i++)
        {
            var z = Enumerable.Range(0, classes).Select(k => b[k] + Enumerable.Range(0, columns).Sum(j => w[(k * columns) + j] * x[(i * columns) + j])).ToArray();
            var total = z.Sum(v => Math.Exp(v - z.Max()));
            for (var k = 0; k < classes; k++)
            {
                p[(i * classes) + k] = Math.Exp(z[k] - z.Max()) / total;
            }
        }

        return p;
    }

    private static double[] GaussJordan(double[,] a)
    {
        var n = a.GetLength(0);
        for (var c = 0; c < n; c++)
        {
            var pivot = Enumerable.Range(c, n - c).MaxBy(r => Math.Abs(a[r, c]));
            for (var k = 0; k <= n; k++)
            {
                (a[c, k], a[pivot, k]) = (a[pivot, k], a[c, k]);
            }

            for (var r = 0; r < n; r++)
            {
                if (r != c)
                {
                    var factor = a[r, c] / a[c, c];
                    for (var k = 0; k <= n; k++)
                    {
                        a[r, k] -= factor * a[c, k];
                    }
                }
            }
        }

        return [.. Enumerable.Range(0, n).Select(r => a[r, n] / a[r, r])];
    }

    /// <summary>A target linear in four raw-scale features plus noise: what ridge regression is for.</summary>
    private static (DatasetManifest Manifest, DatasetSplit Train, DatasetSplit Validation) LinearRegression(int rows)
    {
        var random = new Random(5);
        float[] scales = [1, 10, 100, 0.1f];
        DatasetSplit Make(int count)
        {
            var features = scales.Select(_ => new float[count]).ToArray();
            var target = new float[count];
            for (var r = 0; r < count; r++)
            {
                for (var f = 0; f < scales.Length; f++)
                {
                    features[f][r] = (float)(SyntheticData.Gaussian(random) * scales[f]);
                }

                target[r] = 50 + (3 * features[0][r]) - (0.2f * features[1][r]) + (0.01f * features[2][r]) + (float)SyntheticData.Gaussian(random);
            }

            return new DatasetSplit(features, target);
        }

        var train = Make(rows);
        var manifest = new DatasetManifest
        {
            Dataset = "linear",
            Version = "v1",
            Task = TaskKind.Regression,
            Target = "y",
            Model = "linear",
            Features = [.. Enumerable.Range(0, scales.Length).Select(f => new FeatureStats
            {
                Name = $"x{f}",
                Mean = train.Features[f].Average(),
                Std = Math.Sqrt(train.Features[f].Average(v => Math.Pow(v - train.Features[f].Average(), 2))),
            })],
            TargetStats = new TargetStats { Mean = train.Target.Average(), Std = Math.Sqrt(train.Target.Average(v => Math.Pow(v - train.Target.Average(), 2))) },
        };
        return (manifest, train, Make(rows / 4));
    }
}
