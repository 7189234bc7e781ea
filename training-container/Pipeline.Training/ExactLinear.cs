using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>One point of a regularization path: the L2 penalty, the weights it gave and how they scored.</summary>
/// <param name="Penalty">The L2 penalty λ (see <see cref="ExactLinear"/> for the objective it weighs).</param>
/// <param name="Weights">Weight <c>[outputs, inputs]</c> row-major and bias <c>[outputs]</c>: the layout of a linear <see cref="Mlp"/>.</param>
/// <param name="TrainLoss">Loss on the train split (without the penalty).</param>
/// <param name="ValidationLoss">Loss on the validation split, as networks are scored (cross-entropy, or MSE on the standardized target).</param>
/// <param name="ValidationMetric">Accuracy or r2 on the validation split.</param>
public sealed record LinearFit(double Penalty, List<float[]> Weights, double TrainLoss, double ValidationLoss, double ValidationMetric);

/// <summary>
/// Linear models fitted to the optimum of their L2-penalised loss on standardized inputs, instead of by a fixed number of
/// optimizer steps: ridge regression in closed form and multinomial logistic regression by L-BFGS to convergence. The
/// penalty is chosen from a log grid by validation loss, as scikit-learn's RidgeCV / LogisticRegressionCV do; the result is
/// the weights of a linear <see cref="Mlp"/>, exported like any network. The objectives, with <c>n</c> train rows:
/// ridge <c>(1/n)·Σ(y − Xw − b)² + λ‖w‖²</c> (scikit-learn's <c>alpha = nλ</c>); logistic
/// <c>(1/n)·Σ cross-entropy + (λ/2)‖W‖²</c> with one weight row per class, the penalty doubled for two classes so that it
/// equals scikit-learn's binary objective with <c>C = 1/(nλ)</c>. Intercepts are not penalised. All arithmetic is in
/// float64 on the CPU and deterministic.
/// </summary>
public static class ExactLinear
{
    /// <summary>Ridge penalties tried, strongest last: 10^-5 … 10^2 in half decades.</summary>
    public static IReadOnlyList<double> RidgePenalties { get; } = [.. Enumerable.Range(0, 15).Select(i => Math.Pow(10, -5 + (0.5 * i)))];

    /// <summary>Logistic penalties tried, strongest first (each fit starts from the previous one): 10^1 … 10^-5 in half decades.</summary>
    public static IReadOnlyList<double> LogisticPenalties { get; } = [.. Enumerable.Range(0, 13).Select(i => Math.Pow(10, 1 - (0.5 * i)))];

    /// <summary>Table rows (train + validation) above which a logistic path keeps every other penalty (each fit is a pass over many rows; the penalty matters little there).</summary>
    public const int LargeRows = 20_000;

    /// <summary>
    /// The path's convergence test: the largest gradient component of the (per-row) objective below this. Validation losses
    /// at this tolerance differ from the exact optimum's far less than neighbouring penalties' do, which is all the path
    /// compares; the served fit converges further (<see cref="FitTolerance"/>).
    /// </summary>
    public const double PathTolerance = 1e-4;

    /// <summary>The served model's convergence test (<see cref="Fit"/>), on the same gradient.</summary>
    public const double FitTolerance = 1e-6;

    /// <summary>L-BFGS iterations per penalty at most (weak penalties on nearly separable classes converge slowest).</summary>
    public const int SearchIterations = 300;

    /// <summary>Rows centred at a time while the ridge's Gram matrix is summed: memory stays bounded on a large table.</summary>
    private const int GramBlockRows = 8192;

    private const int Memory = 10;

    /// <summary>
    /// The penalties a path tries on a table of <paramref name="tableRows"/> rows (train + validation, not the rows one fit
    /// sees), so every fold of a cross-validation tries the same grid.
    /// </summary>
    public static IReadOnlyList<double> Penalties(bool classification, int tableRows) => classification
        ? tableRows > LargeRows ? [.. LogisticPenalties.Where((_, i) => i % 2 == 0)] : LogisticPenalties
        : RidgePenalties;

    /// <summary>Logistic paths stop once the validation loss has risen this many penalties in a row: the weaker ones only overfit more, and cost the most iterations.</summary>
    public const int PathPatience = 3;

    /// <summary>
    /// Fits the model on <paramref name="data"/>'s train split for each penalty of <see cref="Penalties"/> in turn and scores
    /// each on its validation split. Stops when <paramref name="outOfTime"/> says so: after the current ridge penalty, or
    /// within a logistic fit between two L-BFGS steps (that fit is scored as far as it got; at least one penalty is always
    /// scored; <paramref name="cut"/> then says so); and a logistic path after <see cref="PathPatience"/> rising validation
    /// losses.
    /// </summary>
    /// <param name="tableRows">Rows of the whole table (train + validation): chooses the grid (<see cref="Penalties"/>).</param>
    public static List<LinearFit> Path(TrainingData data, bool encoded, int tableRows, Func<bool> outOfTime, CancellationToken cancellationToken, out bool cut)
    {
        cut = false;
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(outOfTime);
        using var scope = NewDisposeScope();
        var x = Inputs(data, encoded, validation: false);
        var fits = new List<LinearFit>();
        if (data.Classification)
        {
            var y = data.YTrain.cpu().to(ScalarType.Int64);
            double[]? start = null;
            var penalties = Penalties(true, tableRows);
            foreach (var penalty in penalties)
            {
                cancellationToken.ThrowIfCancellationRequested();
                start = Logistic(x, y, data.Outputs, penalty, start, PathTolerance, SearchIterations, outOfTime, out var stopped, cancellationToken);
                fits.Add(Score(data, encoded, penalty, Layout(start, data.Outputs, (int)x.shape[1])));
                if (fits.Count > PathPatience && Enumerable.Range(fits.Count - PathPatience, PathPatience).All(i => fits[i].ValidationLoss > fits[i - 1].ValidationLoss))
                {
                    break;
                }

                if (stopped || outOfTime())
                {
                    cut = stopped || fits.Count < penalties.Count;
                    break;
                }
            }

            return fits;
        }

        var target = data.YTrain.cpu().to(ScalarType.Float64).reshape(-1);
        var ridge = new RidgePath(x, target);
        foreach (var penalty in RidgePenalties)
        {
            cancellationToken.ThrowIfCancellationRequested();
            fits.Add(Score(data, encoded, penalty, ridge.Solve(penalty)));
            if (outOfTime())
            {
                cut = fits.Count < RidgePenalties.Count;
                break;
            }
        }

        return fits;
    }

    /// <summary>The model for one penalty on <paramref name="data"/>'s train split (a refit on every row, once the penalty is chosen).</summary>
    public static List<float[]> Fit(TrainingData data, bool encoded, double penalty)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var scope = NewDisposeScope();
        var x = Inputs(data, encoded, validation: false);
        if (data.Classification)
        {
            return Layout(Logistic(x, data.YTrain.cpu().to(ScalarType.Int64), data.Outputs, penalty, null, FitTolerance, SearchIterations, null, out _), data.Outputs, (int)x.shape[1]);
        }

        return new RidgePath(x, data.YTrain.cpu().to(ScalarType.Float64).reshape(-1)).Solve(penalty);
    }

    /// <summary>Ridge regression of <paramref name="y"/> on the rows of <paramref name="x"/> (row-major <c>[rows, columns]</c>): weights and intercept.</summary>
    public static (double[] Weights, double Intercept) Ridge(double[] x, int rows, int columns, double[] y, double penalty)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        using var scope = NewDisposeScope();
        var path = new RidgePath(tensor(x, [rows, columns], ScalarType.Float64), tensor(y, ScalarType.Float64));
        var (w, b) = path.SolveDouble(penalty);
        return (w, b);
    }

    /// <summary>
    /// Multinomial logistic regression of class indexes <paramref name="y"/> on the rows of <paramref name="x"/>: weights
    /// <c>[classes, columns]</c> row-major and intercepts <c>[classes]</c>, minimized until the largest gradient component
    /// is below <paramref name="tolerance"/> (or <paramref name="iterations"/> L-BFGS steps).
    /// </summary>
    public static (double[] Weights, double[] Intercepts) Logistic(double[] x, int rows, int columns, int[] y, int classes, double penalty, double tolerance = 1e-9,
        int iterations = 5000)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        using var scope = NewDisposeScope();
        var theta = Logistic(tensor(x, [rows, columns], ScalarType.Float64), tensor(y.Select(v => (long)v).ToArray()), classes, penalty, null, tolerance, iterations, null, out _);
        return (theta[..(classes * columns)], theta[(classes * columns)..]);
    }

    private static Tensor Inputs(TrainingData data, bool encoded, bool validation)
    {
        var x = encoded
            ? (validation ? data.XValidEncoded : data.XTrainEncoded) ?? throw new InvalidOperationException("No encoding for an encoded trial.")
            : validation ? data.XValid : data.XTrain;
        return x.cpu().to(ScalarType.Float64);
    }

    /// <summary>Scores weights on the validation split exactly as a network's epoch is scored.</summary>
    private static LinearFit Score(TrainingData data, bool encoded, double penalty, List<float[]> weights)
    {
        using var scope = NewDisposeScope();
        var outputs = data.Outputs;
        var inputs = weights[0].Length / outputs;
        var w = tensor(weights[0], [outputs, inputs]).to(data.Device);
        var b = tensor(weights[1]).to(data.Device);
        var xTrain = encoded ? data.XTrainEncoded! : data.XTrain;
        var xValid = encoded ? data.XValidEncoded! : data.XValid;
        var trainLoss = data.Loss(nn.functional.linear(xTrain, w, b), data.YTrain).item<float>();
        var output = nn.functional.linear(xValid, w, b);
        var validationLoss = data.Loss(output, data.YValid).item<float>();
        return new LinearFit(penalty, weights, trainLoss, validationLoss, data.Quality(output, data.ValidationTarget));
    }

    private static List<float[]> Layout(double[] theta, int classes, int columns) =>
        [theta[..(classes * columns)].Select(v => (float)v).ToArray(), theta[(classes * columns)..].Select(v => (float)v).ToArray()];

    /// <summary>
    /// Ridge for every penalty from one eigendecomposition of the centred Gram matrix: <c>w(λ) = Q·diag(1/(s + λ))·Qᵀ·Xcᵀyc/n</c>,
    /// and the intercept from the means.
    /// </summary>
    private sealed class RidgePath
    {
        private readonly double[] _eigenvalues;
        private readonly double[,] _vectors;
        private readonly double[] _projected;
        private readonly double[] _xMean;
        private readonly double _yMean;

        public RidgePath(Tensor x, Tensor y)
        {
            using var scope = NewDisposeScope();
            var rows = x.shape[0];
            var columns = (int)x.shape[1];
            var xMean = x.mean([0]);
            var yMean = y.mean();
            // Xcᵀ·Xc and Xcᵀ·yc summed over blocks of centred rows: never a centred copy of the whole table.
            var gram = zeros([columns, columns], ScalarType.Float64);
            var xty = zeros([columns], ScalarType.Float64);
            for (long start = 0; start < rows; start += GramBlockRows)
            {
                using var block = NewDisposeScope();
                var length = Math.Min(GramBlockRows, rows - start);
                var xc = x.narrow(0, start, length) - xMean;
                var yc = y.narrow(0, start, length) - yMean;
                gram.add_(xc.t().matmul(xc));
                xty.add_(xc.t().matmul(yc));
            }

            var (values, vectors) = linalg.eigh(gram.div(rows));
            var projected = vectors.t().matmul(xty.div(rows));
            _eigenvalues = [.. values.data<double>().Select(v => Math.Max(0, v))];
            var flat = vectors.contiguous().data<double>().ToArray();
            _vectors = new double[columns, columns];
            for (var i = 0; i < columns; i++)
            {
                for (var j = 0; j < columns; j++)
                {
                    _vectors[i, j] = flat[(i * columns) + j];
                }
            }

            _projected = [.. projected.data<double>()];
            _xMean = [.. xMean.data<double>()];
            _yMean = yMean.item<double>();
        }

        public (double[] Weights, double Intercept) SolveDouble(double penalty)
        {
            var columns = _xMean.Length;
            var scaled = _projected.Select((p, k) => p / (_eigenvalues[k] + penalty)).ToArray();
            var w = new double[columns];
            for (var i = 0; i < columns; i++)
            {
                double sum = 0;
                for (var k = 0; k < columns; k++)
                {
                    sum += _vectors[i, k] * scaled[k];
                }

                w[i] = sum;
            }

            return (w, _yMean - w.Select((v, i) => v * _xMean[i]).Sum());
        }

        public List<float[]> Solve(double penalty)
        {
            var (w, b) = SolveDouble(penalty);
            return [[.. w.Select(v => (float)v)], [(float)b]];
        }
    }

    /// <summary>
    /// Minimizes the penalised multinomial cross-entropy by L-BFGS (backtracking line search on the Armijo condition) until
    /// the largest gradient component is below <paramref name="tolerance"/>; returns the weights then the intercepts, flat.
    /// <paramref name="outOfTime"/> (when given) is asked between steps: true stops the fit where it is and sets <paramref name="stopped"/>.
    /// </summary>
    private static double[] Logistic(Tensor x, Tensor y, int classes, double penalty, double[]? start, double tolerance, int iterations, Func<bool>? outOfTime,
        out bool stopped, CancellationToken cancellationToken = default)
    {
        stopped = false;
        var columns = (int)x.shape[1];
        var rows = x.shape[0];
        var size = (classes * columns) + classes;
        var lambda = classes == 2 ? 2 * penalty : penalty;
        var oneHot = nn.functional.one_hot(y, classes).to(ScalarType.Float64);

        double Evaluate(double[] theta, double[] gradient)
        {
            using var scope = NewDisposeScope();
            var w = tensor(theta[..(classes * columns)], [classes, columns], ScalarType.Float64);
            var b = tensor(theta[(classes * columns)..], ScalarType.Float64);
            var z = x.matmul(w.t()) + b;
            var logNorm = z.logsumexp(1, keepdim: true);
            var loss = (logNorm - z).mul(oneHot).sum().item<double>() / rows;
            var residual = (z - logNorm).exp().sub(oneHot).div(rows);
            var gw = residual.t().matmul(x) + (w * lambda);
            var gb = residual.sum([0]);
            Array.Copy(gw.contiguous().data<double>().ToArray(), gradient, classes * columns);
            Array.Copy(gb.data<double>().ToArray(), 0, gradient, classes * columns, classes);
            var norm = theta.Take(classes * columns).Sum(v => v * v);
            return loss + (0.5 * lambda * norm);
        }

        var current = start is { Length: var n } && n == size ? (double[])start.Clone() : new double[size];
        var grad = new double[size];
        var value = Evaluate(current, grad);
        var steps = new List<double[]>();
        var changes = new List<double[]>();
        var next = new double[size];
        var nextGrad = new double[size];
        for (var iteration = 0; iteration < iterations && grad.Max(Math.Abs) > tolerance; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (outOfTime?.Invoke() == true)
            {
                stopped = true;
                break;
            }

            var direction = Direction(grad, steps, changes);
            var slope = Dot(direction, grad);
            if (slope >= 0)
            {
                // Not a descent direction (curvature information gone stale): start over from steepest descent.
                steps.Clear();
                changes.Clear();
                direction = [.. grad.Select(g => -g)];
                slope = Dot(direction, grad);
            }

            var step = steps.Count == 0 ? Math.Min(1, 1 / Math.Sqrt(Dot(grad, grad))) : 1;
            double nextValue;
            var tries = 0;
            while (true)
            {
                for (var i = 0; i < size; i++)
                {
                    next[i] = current[i] + (step * direction[i]);
                }

                nextValue = Evaluate(next, nextGrad);
                if (nextValue <= value + (1e-4 * step * slope) || ++tries == 50)
                {
                    break;
                }

                step /= 2;
            }

            if (tries == 50 || value - nextValue <= 1e-15 * Math.Max(1, Math.Abs(value)))
            {
                // No further decrease within floating-point precision: this is the optimum.
                if (nextValue < value)
                {
                    (current, next) = (next, current);
                    (grad, nextGrad) = (nextGrad, grad);
                }

                break;
            }

            var s = new double[size];
            var change = new double[size];
            for (var i = 0; i < size; i++)
            {
                s[i] = next[i] - current[i];
                change[i] = nextGrad[i] - grad[i];
            }

            if (Dot(s, change) > 1e-12)
            {
                steps.Add(s);
                changes.Add(change);
                if (steps.Count > Memory)
                {
                    steps.RemoveAt(0);
                    changes.RemoveAt(0);
                }
            }

            (current, next) = (next, current);
            (grad, nextGrad) = (nextGrad, grad);
            value = nextValue;
        }

        return current;
    }

    /// <summary>The L-BFGS two-loop recursion: −H·g from the last <see cref="Memory"/> steps and gradient changes.</summary>
    private static double[] Direction(double[] gradient, List<double[]> steps, List<double[]> changes)
    {
        var q = (double[])gradient.Clone();
        var alphas = new double[steps.Count];
        for (var k = steps.Count - 1; k >= 0; k--)
        {
            alphas[k] = Dot(steps[k], q) / Dot(changes[k], steps[k]);
            for (var i = 0; i < q.Length; i++)
            {
                q[i] -= alphas[k] * changes[k][i];
            }
        }

        if (steps.Count > 0)
        {
            var gamma = Dot(steps[^1], changes[^1]) / Dot(changes[^1], changes[^1]);
            for (var i = 0; i < q.Length; i++)
            {
                q[i] *= gamma;
            }
        }

        for (var k = 0; k < steps.Count; k++)
        {
            var beta = Dot(changes[k], q) / Dot(changes[k], steps[k]);
            for (var i = 0; i < q.Length; i++)
            {
                q[i] += (alphas[k] - beta) * steps[k][i];
            }
        }

        for (var i = 0; i < q.Length; i++)
        {
            q[i] = -q[i];
        }

        return q;
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }
}
