using System.Text;
using static Pipeline.Training.Gbdt.LightGbmNative;

namespace Pipeline.Training.Gbdt;

/// <summary>A LightGBM dataset built from a row-major float32 matrix and its labels; validation sets bin with the train set's mapper.</summary>
public sealed class LightGbmDataset : IDisposable
{
    private IntPtr _handle;

    /// <param name="rowMajor">Features, <paramref name="rows"/> × <paramref name="columns"/>, row-major.</param>
    /// <param name="rows">Row count.</param>
    /// <param name="columns">Feature count.</param>
    /// <param name="labels">One label per row: the class index, or the regression target.</param>
    /// <param name="parameters">Dataset parameters (<c>max_bin</c>, <c>num_threads</c>, …), space-separated <c>key=value</c>.</param>
    /// <param name="reference">The train set, when this is a validation set (same bins).</param>
    public unsafe LightGbmDataset(float[] rowMajor, int rows, int columns, float[] labels, string parameters, LightGbmDataset? reference = null)
    {
        ArgumentNullException.ThrowIfNull(rowMajor);
        ArgumentNullException.ThrowIfNull(labels);
        if (rows < 1 || columns < 1 || rowMajor.Length != (long)rows * columns || labels.Length != rows)
        {
            throw new ArgumentException($"A {rows} × {columns} matrix needs {(long)rows * columns} values and {rows} labels; got {rowMajor.Length} and {labels.Length}.");
        }

        Rows = rows;
        Columns = columns;
        fixed (float* data = rowMajor)
        {
            Check(LGBM_DatasetCreateFromMat(data, DTypeFloat32, rows, columns, 1, parameters, reference?._handle ?? IntPtr.Zero, out _handle), "DatasetCreateFromMat");
        }

        fixed (float* label = labels)
        {
            Check(LGBM_DatasetSetField(_handle, "label", label, rows, DTypeFloat32), "DatasetSetField(label)");
        }
    }

    public int Rows { get; }

    public int Columns { get; }

    internal IntPtr Handle => _handle != IntPtr.Zero ? _handle : throw new ObjectDisposedException(nameof(LightGbmDataset));

    public void Dispose()
    {
        if (_handle != IntPtr.Zero)
        {
            _ = LGBM_DatasetFree(_handle);
            _handle = IntPtr.Zero;
        }
    }
}

/// <summary>
/// A LightGBM booster: trained one boosting round at a time (so the caller decides when to stop), evaluated on its
/// validation sets, saved in LightGBM's text model format, or loaded from it to predict. Not thread-safe.
/// </summary>
public sealed class LightGbmBooster : IDisposable
{
    private IntPtr _handle;

    private LightGbmBooster(IntPtr handle) => _handle = handle;

    /// <summary>A booster on <paramref name="train"/> (which must outlive it), with <paramref name="parameters"/> (<c>key=value</c>, space-separated).</summary>
    public static LightGbmBooster Create(LightGbmDataset train, string parameters)
    {
        ArgumentNullException.ThrowIfNull(train);
        Check(LGBM_BoosterCreate(train.Handle, parameters, out var handle), "BoosterCreate");
        return new LightGbmBooster(handle);
    }

    /// <summary>Loads a model saved by <see cref="SaveModel"/>.</summary>
    public static LightGbmBooster Load(string model)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        Check(LGBM_BoosterLoadModelFromString(model, out _, out var handle), "BoosterLoadModelFromString");
        return new LightGbmBooster(handle);
    }

    private IntPtr Handle => _handle != IntPtr.Zero ? _handle : throw new ObjectDisposedException(nameof(LightGbmBooster));

    /// <summary>Adds a validation set (data index 1, 2, … in <see cref="Evaluate"/>); it must outlive the booster.</summary>
    public void AddValidation(LightGbmDataset validation)
    {
        ArgumentNullException.ThrowIfNull(validation);
        Check(LGBM_BoosterAddValidData(Handle, validation.Handle), "BoosterAddValidData");
    }

    /// <summary>One boosting round; false when no further split was possible (the model stops growing).</summary>
    public bool Update()
    {
        Check(LGBM_BoosterUpdateOneIter(Handle, out var finished), "BoosterUpdateOneIter");
        return finished == 0;
    }

    public int Iterations
    {
        get
        {
            Check(LGBM_BoosterGetCurrentIteration(Handle, out var iterations), "BoosterGetCurrentIteration");
            return iterations;
        }
    }

    /// <summary>The configured metrics, in order, on data set <paramref name="dataIndex"/> (0 = train, when training metrics are on).</summary>
    public unsafe double[] Evaluate(int dataIndex)
    {
        Check(LGBM_BoosterGetEvalCounts(Handle, out var count), "BoosterGetEvalCounts");
        var results = new double[count];
        fixed (double* r = results)
        {
            Check(LGBM_BoosterGetEval(Handle, dataIndex, out var length, r), "BoosterGetEval");
            return length == count ? results : results[..length];
        }
    }

    /// <summary>The model's first <paramref name="iterations"/> rounds (all when ≤ 0) in LightGBM's text format.</summary>
    public unsafe string SaveModel(int iterations = 0)
    {
        Check(LGBM_BoosterSaveModelToString(Handle, 0, iterations, 0, 0, out var length, null), "BoosterSaveModelToString");
        var buffer = new byte[length];
        fixed (byte* b = buffer)
        {
            Check(LGBM_BoosterSaveModelToString(Handle, 0, iterations, 0, length, out length, b), "BoosterSaveModelToString");
        }

        // The length counts the terminating NUL.
        return Encoding.UTF8.GetString(buffer, 0, (int)Math.Max(0, length - 1));
    }

    /// <summary>
    /// Predictions for <paramref name="rows"/> row-major rows: probabilities (one per row for binary, one per class for
    /// multiclass) or values, or the raw scores when <paramref name="raw"/>; <paramref name="iterations"/> ≤ 0 uses all rounds.
    /// </summary>
    public unsafe double[] Predict(float[] rowMajor, int rows, int columns, int outputsPerRow, bool raw = false, int iterations = 0, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(rowMajor);
        if (rowMajor.Length != (long)rows * columns)
        {
            throw new ArgumentException($"A {rows} × {columns} matrix needs {(long)rows * columns} values; got {rowMajor.Length}.", nameof(rowMajor));
        }

        var result = new double[(long)rows * outputsPerRow];
        if (rows == 0)
        {
            return result;
        }

        fixed (float* data = rowMajor)
        fixed (double* r = result)
        {
            Check(LGBM_BoosterPredictForMat(Handle, data, DTypeFloat32, rows, columns, 1, raw ? PredictRawScore : PredictNormal, 0, iterations,
                $"num_threads={threads}", out var length, r), "BoosterPredictForMat");
            if (length != result.Length)
            {
                throw new InvalidOperationException($"LightGBM returned {length} predictions for {rows} rows × {outputsPerRow} outputs.");
            }
        }

        return result;
    }

    public void Dispose()
    {
        if (_handle != IntPtr.Zero)
        {
            _ = LGBM_BoosterFree(_handle);
            _handle = IntPtr.Zero;
        }
    }
}
