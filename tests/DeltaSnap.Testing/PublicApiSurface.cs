using System.Reflection;
using System.Text;

namespace DeltaSnap.Testing;

/// <summary>
/// The public surface of an assembly as sorted text lines, compared with the package's
/// <c>PublicAPI.Shipped.txt</c> (PublicApiAnalyzers is not on the package mirror, so this test stands in for
/// it). Set <c>DELTASNAP_UPDATE_PUBLIC_API=1</c> to rewrite the file after a deliberate API change, then review the diff.
/// </summary>
public static class PublicApiSurface
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Asserts that the public surface of <paramref name="assembly"/> equals the package's shipped file.</summary>
    public static void AssertMatchesShipped(Assembly assembly, string packageName)
    {
        var file = Path.Combine(RepositoryRoot(), "src", packageName, "PublicAPI.Shipped.txt");
        var actual = Describe(assembly);
        if (Environment.GetEnvironmentVariable("DELTASNAP_UPDATE_PUBLIC_API") == "1")
        {
            File.WriteAllLines(file, actual);
        }
        Assert.That(File.Exists(file), Is.True, $"{file} is missing; run the tests once with DELTASNAP_UPDATE_PUBLIC_API=1 to create it.");
        var shipped = File.ReadAllLines(file).Where(l => l.Length > 0).ToArray();
        var added = actual.Except(shipped).ToArray();
        var removed = shipped.Except(actual).ToArray();
        Assert.That(added.Length + removed.Length, Is.Zero,
            $"The public API of {packageName} changed. Added:\n  {string.Join("\n  ", added)}\nRemoved:\n  {string.Join("\n  ", removed)}\n" +
            "If deliberate, rerun with DELTASNAP_UPDATE_PUBLIC_API=1 and commit PublicAPI.Shipped.txt.");
    }

    /// <summary>One line per visible type and member, sorted.</summary>
    public static IReadOnlyList<string> Describe(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            var typeName = Name(type);
            lines.Add($"{Kind(type)} {typeName}" + (type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum) ? $" : {Name(b)}" : ""));
            foreach (var member in type.GetMembers(Declared).Where(IsVisible))
            {
                lines.Add($"{typeName}.{Describe(member)}");
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DeltaSnap.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find DeltaSnap.sln above the test assembly.");
    }

    private static bool IsVisible(MemberInfo member) => member switch
    {
        MethodBase m => (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly) && !(m is MethodInfo { IsSpecialName: true } mi && (mi.Name.StartsWith("get_", StringComparison.Ordinal) || mi.Name.StartsWith("set_", StringComparison.Ordinal) || mi.Name.StartsWith("add_", StringComparison.Ordinal) || mi.Name.StartsWith("remove_", StringComparison.Ordinal))),
        FieldInfo f => (f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly) && !f.IsSpecialName,
        PropertyInfo p => (p.GetMethod is { } g && (g.IsPublic || g.IsFamily || g.IsFamilyOrAssembly)) || (p.SetMethod is { } s && (s.IsPublic || s.IsFamily || s.IsFamilyOrAssembly)),
        EventInfo e => e.AddMethod is { } a && (a.IsPublic || a.IsFamily),
        _ => false,
    };

    private static string Describe(MemberInfo member) => member switch
    {
        ConstructorInfo c => $"ctor({Parameters(c)})",
        MethodInfo m => $"{(m.IsStatic ? "static " : "")}{(m.IsAbstract ? "abstract " : m.IsVirtual && !m.IsFinal ? "virtual " : "")}{m.Name}{(m.IsGenericMethod ? "<" + string.Join(",", m.GetGenericArguments().Select(Name)) + ">" : "")}({Parameters(m)}) -> {Name(m.ReturnType)}",
        PropertyInfo p => $"{p.Name} {{{(p.GetMethod is { } g && (g.IsPublic || g.IsFamily) ? " get;" : "")}{(p.SetMethod is { } s && (s.IsPublic || s.IsFamily) ? (s.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.Name == "IsExternalInit") ? " init;" : " set;") : "")} }} : {Name(p.PropertyType)}",
        FieldInfo f => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{f.Name} : {Name(f.FieldType)}{(f.IsLiteral ? " = " + f.GetRawConstantValue() : "")}",
        EventInfo e => $"event {e.Name} : {Name(e.EventHandlerType!)}",
        _ => member.Name,
    };

    private static string Parameters(MethodBase method) =>
        string.Join(", ", method.GetParameters().Select(p => $"{(p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : "")}{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")}"));

    private static string Kind(Type type) =>
        type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct" : typeof(Delegate).IsAssignableFrom(type) ? "delegate" :
        (type.IsAbstract && type.IsSealed ? "static class" : type.IsAbstract ? "abstract class" : type.IsSealed ? "sealed class" : "class");

    private static string Name(Type type)
    {
        if (type.IsByRef)
        {
            return Name(type.GetElementType()!);
        }
        if (type.IsArray)
        {
            return Name(type.GetElementType()!) + "[]";
        }
        if (type.IsGenericParameter)
        {
            return type.Name;
        }
        var name = new StringBuilder(type.IsNested ? Name(type.DeclaringType!) + "." : (type.Namespace is { } ns ? ns + "." : ""));
        var tick = type.Name.IndexOf('`', StringComparison.Ordinal);
        name.Append(tick < 0 ? type.Name : type.Name[..tick]);
        if (type.IsGenericType)
        {
            var args = type.GetGenericArguments();
            var own = type.IsNested ? args.Skip(type.DeclaringType!.GetGenericArguments().Length) : args;
            if (own.Any())
            {
                name.Append('<').Append(string.Join(",", own.Select(Name))).Append('>');
            }
        }
        return name.ToString();
    }
}
