namespace Pipeline.Datasets;

/// <summary>Column-major data of one split: <c>Features[f][row]</c>; <c>Target[row]</c> is a label index or a value.</summary>
public sealed class DatasetSplit(float[][] features, float[] target)
{
    public float[][] Features { get; } = features;

    public float[] Target { get; } = target;

    public int RowCount => Target.Length;
}
