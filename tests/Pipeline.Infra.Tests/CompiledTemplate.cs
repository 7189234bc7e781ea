using System.Text.RegularExpressions;

[assembly: AssemblyFixture(typeof(Pipeline.Infra.Tests.CompiledTemplate))]

namespace Pipeline.Infra.Tests;

/// <summary>
/// infra/main.bicep compiled to ARM JSON once per test run, with every resource of every nested module deployment
/// flattened into <see cref="Resources"/>.
/// </summary>
public sealed partial class CompiledTemplate
{
    public CompiledTemplate()
    {
        var directory = Directory.CreateTempSubdirectory("pipeline-infra-");
        try
        {
            var outFile = Path.Combine(directory.FullName, "main.json");
            var result = BicepCli.Run("build", RepositoryPaths.MainBicep, "--outfile", outFile);
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"bicep build failed ({result.ExitCode}):\n{result.Output}");
            }

            Json = File.ReadAllText(outFile);
        }
        finally
        {
            directory.Delete(recursive: true);
        }

        Root = JsonDocument.Parse(Json).RootElement;
        Resources = Flatten(Root, deployment: null).ToList();
    }

    /// <summary>The compiled template text.</summary>
    public string Json { get; }

    public JsonElement Root { get; }

    public IReadOnlyList<TemplateResource> Resources { get; }

    public IEnumerable<TemplateResource> OfType(string type) =>
        Resources.Where(resource => string.Equals(resource.Type, type, StringComparison.OrdinalIgnoreCase));

    public TemplateResource SingleOf(string type)
    {
        var matches = OfType(type).ToList();
        Assert.True(matches.Count == 1, $"Expected exactly one {type}, found {matches.Count}.");
        return matches[0];
    }

    /// <summary>The one resource of <paramref name="type"/> declared in module <paramref name="module"/> (a module file used twice holds one per use).</summary>
    public TemplateResource SingleOf(string type, string module)
    {
        var matches = OfType(type).Where(resource => resource.Deployment?.Name == module).ToList();
        Assert.True(matches.Count == 1, $"Expected exactly one {type} in module {module}, found {matches.Count}.");
        return matches[0];
    }

    /// <summary>The nested deployment (module) with the given name.</summary>
    public TemplateResource Module(string name) =>
        OfType("Microsoft.Resources/deployments").Single(resource => resource.Name == name);

    private static IEnumerable<TemplateResource> Flatten(JsonElement template, TemplateResource? deployment)
    {
        var resources = template.GetProperty("resources");
        // Templates with symbolic names (languageVersion 2.0) hold an object of resources instead of an array.
        var items = resources.ValueKind == JsonValueKind.Object
            ? resources.EnumerateObject().Select(property => property.Value)
            : resources.EnumerateArray();
        foreach (var element in items)
        {
            if (element.TryGetProperty("existing", out var existing) && existing.ValueKind == JsonValueKind.True)
            {
                continue;
            }

            var resource = new TemplateResource(element, template, deployment);
            yield return resource;
            if (resource.Type == "Microsoft.Resources/deployments"
                && element.GetProperty("properties").TryGetProperty("template", out var nested))
            {
                foreach (var child in Flatten(nested, resource))
                {
                    yield return child;
                }
            }
        }
    }
}

/// <summary>A resource together with the template that declares it and the module deployment that template is in.</summary>
public sealed partial record TemplateResource(JsonElement Element, JsonElement Template, TemplateResource? Deployment)
{
    public string Type => Element.GetProperty("type").GetString()!;

    public string Name => Resolve(Element.GetProperty("name").GetString()!);

    public JsonElement Properties => Element.GetProperty("properties");

    /// <summary>
    /// Resolves an expression that is only a parameter or variable reference (<c>[parameters('x')]</c>,
    /// <c>[variables('y')]</c>) through the module's parameters and the parent templates. Other strings are returned
    /// unchanged.
    /// </summary>
    public string Resolve(string value)
    {
        var parameter = ParameterReference().Match(value);
        if (parameter.Success && Deployment is not null)
        {
            var passed = Deployment.Properties.GetProperty("parameters").GetProperty(parameter.Groups[1].Value).GetProperty("value");
            return passed.ValueKind == JsonValueKind.String ? Deployment.Resolve(passed.GetString()!) : passed.GetRawText();
        }

        var variable = VariableReference().Match(value);
        if (variable.Success && Template.TryGetProperty("variables", out var variables)
            && variables.TryGetProperty(variable.Groups[1].Value, out var resolved))
        {
            return resolved.ValueKind == JsonValueKind.String ? Resolve(resolved.GetString()!) : resolved.GetRawText();
        }

        return value;
    }

    /// <summary>The value a module deployment passes for one of its parameters, resolved as far as possible.</summary>
    public string ParameterValue(string name)
    {
        var value = Properties.GetProperty("parameters").GetProperty(name).GetProperty("value");
        return value.ValueKind == JsonValueKind.String ? Resolve(value.GetString()!) : value.GetRawText();
    }

    [GeneratedRegex(@"^\[parameters\('([^']+)'\)\]$")]
    private static partial Regex ParameterReference();

    [GeneratedRegex(@"^\[variables\('([^']+)'\)\]$")]
    private static partial Regex VariableReference();
}
