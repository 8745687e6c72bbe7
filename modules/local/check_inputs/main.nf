process CHECK_INPUTS {
    tag "${[expression].flatten()*.name.join(',')}"
    label 'process_single'

    input:
    tuple path(fasta), path(fai)
    path vcfs          // one or more VCF/BCF files (e.g. one per chromosome)
    path vcf_indexes   // their .tbi/.csi indexes
    path annotation
    path expression
    path sample_map    // [] when not given
    path gene_list     // [] when not given
    path covariates    // [] when not given; with tissues, every tissue's that has some
    val tissue_args    // with tissues: '--tissue NAME EXPRESSION [COVARIATES] ...' naming the staged files; '' otherwise

    output:
    path 'check/samples.tsv',         emit: samples
    path 'check/contigs.tsv',         emit: contigs
    path 'check/vcfs.tsv',            emit: vcfs
    path 'check/check_summary.json',  emit: summary
    path 'versions.yml',              emit: versions

    script:
    def smap  = sample_map ? "--sample-map ${sample_map}" : ''
    def glist = gene_list ? "--gene-list ${gene_list}" : ''
    def cov   = covariates ? "--covariates ${covariates}" : ''
    def expr  = tissue_args ?: "--expression ${expression} ${cov}"
    def args  = task.ext.args ?: ''   // min_samples (conf/modules.config, generated from the registry)
    """
    seqgx check-inputs \\
        --fasta ${fasta} --vcf ${vcfs} --annotation ${annotation} ${expr} \\
        ${smap} ${glist} ${args} --out check

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p check
    printf 'expression_sample\\tvcf_sample\\n' > check/samples.tsv
    printf 'annotation_contig\\tfasta_contig\\tvcf_contig\\n' > check/contigs.tsv
    printf 'vcf_contig\\tvcf\\n' > check/vcfs.tsv
    echo '{}' > check/check_summary.json
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
