using System.Globalization;

namespace Pipeline.Training.Gbdt;

/// <summary>
/// One tree of a LightGBM model, as its text format stores it: internal nodes <c>0 … Leaves−2</c> with their split feature,
/// threshold and decision type; a child index ≥ 0 is an internal node, a negative one <c>~leaf</c>. A row goes left when
/// <c>(double)x ≤ threshold</c>. Leaf values already include the shrinkage (learning rate).
/// </summary>
public sealed record LightGbmTree(int[] SplitFeature, double[] Threshold, int[] DecisionType, int[] LeftChild, int[] RightChild, double[] LeafValue)
{
    public int Leaves => LeafValue.Length;

    /// <summary>Bit 0 of a decision type: categorical split.</summary>
    public static bool Categorical(int decisionType) => (decisionType & 1) != 0;

    /// <summary>Bit 1: missing values go left.</summary>
    public static bool DefaultLeft(int decisionType) => (decisionType & 2) != 0;

    /// <summary>Bits 2–3: 0 none (NaN is read as 0), 1 zero is missing, 2 NaN is missing.</summary>
    public static int MissingType(int decisionType) => (decisionType >> 2) & 3;
}

/// <summary>
/// The trees of a LightGBM text model (<c>LGBM_BoosterSaveModelToString</c>). Tree <c>i</c> adds to output
/// <c>i mod TreesPerIteration</c>; the raw score of an output is the sum of its trees' leaves.
/// </summary>
public sealed class LightGbmModel
{
    private LightGbmModel(int classes, int treesPerIteration, int features, string objective, bool averageOutput, IReadOnlyList<LightGbmTree> trees)
    {
        Classes = classes;
        TreesPerIteration = treesPerIteration;
        Features = features;
        Objective = objective;
        AverageOutput = averageOutput;
        Trees = trees;
    }

    /// <summary><c>num_class</c>: 1 for binary and regression.</summary>
    public int Classes { get; }

    public int TreesPerIteration { get; }

    /// <summary><c>max_feature_idx + 1</c>.</summary>
    public int Features { get; }

    /// <summary>The <c>objective=</c> line, e.g. <c>binary sigmoid:1</c>, <c>multiclass num_class:3</c>, <c>regression</c>.</summary>
    public string Objective { get; }

    /// <summary>Random-forest mode: the score is the average of the trees, not their sum.</summary>
    public bool AverageOutput { get; }

    public IReadOnlyList<LightGbmTree> Trees { get; }

    /// <summary>Parses a model in LightGBM's text format.</summary>
    /// <exception cref="FormatException">The text is not a LightGBM tree model this parser understands.</exception>
    public static LightGbmModel Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var header = new Dictionary<string, string>(StringComparer.Ordinal);
        var trees = new List<LightGbmTree>();
        Dictionary<string, string>? tree = null;
        var averageOutput = false;
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.StartsWith("Tree=", StringComparison.Ordinal))
            {
                if (tree is not null)
                {
                    trees.Add(ToTree(tree, trees.Count));
                }

                tree = new Dictionary<string, string>(StringComparer.Ordinal);
                continue;
            }

            if (line == "end of trees")
            {
                break;
            }

            if (line == "average_output")
            {
                averageOutput = true;
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                (tree ?? header)[line[..equals]] = line[(equals + 1)..];
            }
        }

        if (tree is not null)
        {
            trees.Add(ToTree(tree, trees.Count));
        }

        if (!header.TryGetValue("num_tree_per_iteration", out var perIteration) || !header.TryGetValue("max_feature_idx", out var maxFeature))
        {
            throw new FormatException("Not a LightGBM text model: num_tree_per_iteration or max_feature_idx is missing.");
        }

        return new LightGbmModel(
            header.TryGetValue("num_class", out var classes) ? Int(classes) : 1,
            Int(perIteration),
            Int(maxFeature) + 1,
            header.GetValueOrDefault("objective", ""),
            averageOutput,
            trees);
    }

    /// <summary>Raw scores of one row (<see cref="TreesPerIteration"/> values), evaluated the way LightGBM does.</summary>
    public double[] RawScores(ReadOnlySpan<float> row)
    {
        var scores = new double[TreesPerIteration];
        for (var t = 0; t < Trees.Count; t++)
        {
            var tree = Trees[t];
            var node = tree.Leaves == 1 ? ~0 : 0;
            while (node >= 0)
            {
                double value = row[tree.SplitFeature[node]];
                if (double.IsNaN(value) && LightGbmTree.MissingType(tree.DecisionType[node]) != 2)
                {
                    value = 0;
                }

                var left = double.IsNaN(value) ? LightGbmTree.DefaultLeft(tree.DecisionType[node]) : value <= tree.Threshold[node];
                node = left ? tree.LeftChild[node] : tree.RightChild[node];
            }

            scores[t % TreesPerIteration] += tree.LeafValue[~node];
        }

        if (AverageOutput && Trees.Count > 0)
        {
            var iterations = Trees.Count / TreesPerIteration;
            for (var k = 0; k < scores.Length; k++)
            {
                scores[k] /= iterations;
            }
        }

        return scores;
    }

    private static LightGbmTree ToTree(Dictionary<string, string> fields, int index)
    {
        var leaves = Int(Field(fields, "num_leaves", index));
        if (fields.TryGetValue("num_cat", out var categories) && Int(categories) != 0)
        {
            throw new FormatException($"Tree {index} has categorical splits; the trainer builds numerical splits only.");
        }

        if (fields.TryGetValue("is_linear", out var linear) && Int(linear) != 0)
        {
            throw new FormatException($"Tree {index} is a linear tree; only constant leaves are supported.");
        }

        var leafValues = Doubles(Field(fields, "leaf_value", index));
        if (leafValues.Length != leaves)
        {
            throw new FormatException($"Tree {index} declares {leaves} leaves but has {leafValues.Length} leaf values.");
        }

        if (leaves == 1)
        {
            return new LightGbmTree([], [], [], [], [], leafValues);
        }

        var tree = new LightGbmTree(
            Ints(Field(fields, "split_feature", index)),
            Doubles(Field(fields, "threshold", index)),
            Ints(Field(fields, "decision_type", index)),
            Ints(Field(fields, "left_child", index)),
            Ints(Field(fields, "right_child", index)),
            leafValues);
        var internalNodes = leaves - 1;
        if (tree.SplitFeature.Length != internalNodes || tree.Threshold.Length != internalNodes || tree.DecisionType.Length != internalNodes
            || tree.LeftChild.Length != internalNodes || tree.RightChild.Length != internalNodes)
        {
            throw new FormatException($"Tree {index} has {leaves} leaves but its split arrays are not {internalNodes} long.");
        }

        return tree;
    }

    private static string Field(Dictionary<string, string> fields, string name, int tree) =>
        fields.TryGetValue(name, out var value) ? value : throw new FormatException($"Tree {tree} has no {name}.");

    private static int Int(string text) => int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);

    private static int[] Ints(string text) => [.. text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Int)];

    // LightGBM writes doubles with round-trip precision; "inf"/"-inf" can appear in thresholds of degenerate splits.
    private static double[] Doubles(string text) => [.. text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => s switch
    {
        "inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        _ => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture),
    })];
}
