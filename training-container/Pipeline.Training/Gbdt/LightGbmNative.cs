using System.Runtime.InteropServices;

namespace Pipeline.Training.Gbdt;

/// <summary>
/// The part of LightGBM's C API (<c>include/LightGBM/c_api.h</c>, 4.x) the trainer uses, bound to the native
/// <c>lib_lightgbm</c> that the <c>LightGBM</c> NuGet package ships. Every function returns 0 on success and -1 on failure,
/// with the reason in <see cref="LGBM_GetLastError"/>.
/// </summary>
internal static partial class LightGbmNative
{
    private const string Library = "lib_lightgbm";

    public const int DTypeFloat32 = 0;
    public const int DTypeFloat64 = 1;
    public const int PredictNormal = 0;
    public const int PredictRawScore = 1;

    [LibraryImport(Library)]
    public static partial IntPtr LGBM_GetLastError();

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int LGBM_DatasetCreateFromMat(void* data, int dataType, int rows, int columns, int isRowMajor, string parameters, IntPtr reference, out IntPtr dataset);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int LGBM_DatasetSetField(IntPtr dataset, string fieldName, void* fieldData, int elements, int type);

    [LibraryImport(Library)]
    public static partial int LGBM_DatasetFree(IntPtr dataset);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int LGBM_BoosterCreate(IntPtr trainData, string parameters, out IntPtr booster);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int LGBM_BoosterLoadModelFromString(string model, out int iterations, out IntPtr booster);

    [LibraryImport(Library)]
    public static partial int LGBM_BoosterFree(IntPtr booster);

    [LibraryImport(Library)]
    public static partial int LGBM_BoosterAddValidData(IntPtr booster, IntPtr validData);

    [LibraryImport(Library)]
    public static partial int LGBM_BoosterUpdateOneIter(IntPtr booster, out int isFinished);

    [LibraryImport(Library)]
    public static partial int LGBM_BoosterGetEvalCounts(IntPtr booster, out int count);

    [LibraryImport(Library)]
    public static unsafe partial int LGBM_BoosterGetEval(IntPtr booster, int dataIndex, out int length, double* results);

    [LibraryImport(Library)]
    public static partial int LGBM_BoosterGetCurrentIteration(IntPtr booster, out int iteration);

    [LibraryImport(Library)]
    public static unsafe partial int LGBM_BoosterSaveModelToString(IntPtr booster, int startIteration, int iterations, int featureImportanceType, long bufferLength, out long length, byte* model);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int LGBM_BoosterPredictForMat(IntPtr booster, void* data, int dataType, int rows, int columns, int isRowMajor, int predictType, int startIteration, int iterations, string parameters, out long length, double* result);

    /// <summary>Throws with LightGBM's own message when <paramref name="status"/> is not 0.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new InvalidOperationException($"LightGBM {call} failed: {Marshal.PtrToStringUTF8(LGBM_GetLastError())}");
        }
    }
}
